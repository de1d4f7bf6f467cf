"""Chinese name pools for generated people (private module, public names).

Common surnames and given-name characters of Jiangxi, used where gridgeo makes up a person: the
sample county's customers and grid managers (:mod:`gridgeo.sample`) and a generated roster
(:func:`gridgeo.roster.generate_roster`). Kept here so that production code never imports the
sample generator.
"""

from __future__ import annotations

__all__ = ["GIVEN_CHARS", "SURNAMES"]

SURNAMES = tuple("曾刘王李黄陈张吴赵周徐胡朱罗谢付饶邱揭危袁邓傅熊杨谭聂彭游包艾")
GIVEN_CHARS = tuple("建国华明军平芳英红兰秀梅春生福荣根水金林桂珍玉德文伟强勇丽娟辉")

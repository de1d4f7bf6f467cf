"""Cut jionlp's ``china_location.txt`` into gridgeo's two tables (see ``README.md`` here).

Run as a script: ``python extract_jionlp.py china_location.txt china_location_change.txt
admin_divisions.csv jiangxi_towns_villages.csv``. Not imported by gridgeo.
"""

from __future__ import annotations

import csv
import sys

JIANGXI = "360000"


def former_names(changes: str) -> dict[tuple[str, str], set[str]]:
    """Former county names by (city name, current county name), from the list of changes."""
    out: dict[tuple[str, str], set[str]] = {}
    with open(changes, encoding="utf-8") as fh:
        for raw in fh:
            fields = raw.rstrip("\n").split("\t")
            if "=>" not in raw or len(fields) < 9:
                continue
            old_county = fields[6]
            new_city, new_county = fields[-2], fields[-1]
            if old_county != new_county:
                out.setdefault((new_city, new_county), set()).add(old_county)
    return out


def main(src: str, changes: str, admin_out: str, jiangxi_out: str) -> None:
    former = former_names(changes)
    admin: list[tuple[str, ...]] = []
    jiangxi: list[tuple[str, ...]] = []
    prov: list[str] = []
    city: list[str] = []
    county: list[str] | None = None
    town = ""
    with open(src, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            depth = len(line) - len(line.lstrip("\t"))
            parts = line.strip().split("\t")
            if depth == 0:  # province: name, code, short form
                prov, county = parts, None
                admin.append((parts[1], "province", parts[0], parts[2], parts[1], "", ""))
            elif depth == 1:  # city
                city, county = parts, None
                admin.append((parts[1], "city", parts[0], parts[2], prov[1], parts[1], ""))
            elif depth == 2 and len(parts) == 3:  # county
                county = parts
                old = "|".join(sorted(former.get((city[0], parts[0]), set())))
                admin.append((parts[1], "county", parts[0], parts[2], prov[1], city[1], old))
            elif depth == 2:  # a township directly under a city without counties (东莞...)
                county, town = None, parts[0]
            elif depth == 3:  # township
                town = parts[0]
                if prov[1] == JIANGXI and county is not None:
                    jiangxi.append((county[1], county[0], town, ""))
            elif depth == 4 and prov[1] == JIANGXI and county is not None:  # village
                jiangxi.append((county[1], county[0], town, parts[0]))
    with open(admin_out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["adcode", "level", "name", "short_name", "province_adcode", "city_adcode", "former"]
        )
        w.writerows(admin)
    with open(jiangxi_out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["county_adcode", "county", "town", "village"])
        w.writerows(jiangxi)


if __name__ == "__main__":
    main(*sys.argv[1:5])

"""Work orders (工单): every fault report, complaint, request or praise, and what became of it.

A work order is one row of the workspace's versioned ``work_orders`` layer (key ``order_id``),
so every change is a new version that keeps who, when and why, and each order's own history
is its rows in ``work_orders_history`` (:meth:`gridgeo.store.Store.read` at any version).

Columns (:data:`ORDER_COLUMNS`; times are timezone-aware, stored in UTC, read in China's time
zone :data:`TIMEZONE` for periods):

=====================  ==============================================================
``order_id``           工单编号, unique text
``kind``               one of :data:`ORDER_KINDS` (``fault`` 故障报修, ``complaint`` 投诉, ...)
``source``             one of :data:`ORDER_SOURCES` (``95598``, ``grid_member`` 网格员, ...)
``status``             one of :data:`ORDER_STATUSES`, the last step reached
``customer_id``        the customer, if known ("" otherwise)
``address``            the address as reported ("" if none)
``location_source``    how the point was found: ``customer``, ``point``, ``address``, ``none``
``reported_at``        受理时间 (required) ...
``dispatched_at``      派单 ... each later time optional but never before an earlier one, in the
``departed_at``        order of :data:`TIME_COLUMNS`
``arrived_at``         到达现场
``repaired_at``        修复
``closed_at``          归档/办结
``called_back_at``     回访
``grid_t1..grid_t3``   the grid of each tier, set at creation from the location
``town``, ``village``  township and village names of the location ("" if unknown)
``station_id``         the repair station dispatched ("" if none)
``crew``               the crew or person dispatched ("" if none)
``member``             the grid member responsible (网格员), "" if none
``predicted_eta_s``    the routing engine's ETA of the dispatched station at dispatch time
``fault_kind``         faults only: one of :data:`FAULT_KINDS` (高压/低压/客户内部), else ""
``outage_start``       for outages: when supply was lost and restored
``outage_end``
``customers_affected`` customers without supply in the outage (NaN if not an outage)
``planned``            a planned outage (计划停电), False otherwise
``result``             处理结果, free text
``satisfaction``       callback result: one of :data:`SATISFACTION` or ""
``first_time``         settled the first time (一次办结)
``repeat_of``          an earlier order of the same customer and kind within
                       :data:`REPEAT_WINDOW_DAYS` days ("" if none)
geometry               the location (WGS84 point), empty if unknown
=====================  ==============================================================
"""

from __future__ import annotations

__all__ = [
    "FAULT_KINDS",
    "ORDER_COLUMNS",
    "ORDER_KINDS",
    "ORDER_SOURCES",
    "ORDER_STATUSES",
    "REPEAT_WINDOW_DAYS",
    "SATISFACTION",
    "TIMEZONE",
    "TIME_COLUMNS",
]

TIMEZONE = "Asia/Shanghai"
REPEAT_WINDOW_DAYS = 30

# code -> Chinese label; the codes are what is stored, the labels what users read
ORDER_KINDS: dict[str, str] = {
    "fault": "故障报修",
    "complaint": "投诉",
    "report": "举报",
    "opinion": "意见",
    "suggestion": "建议",
    "consultation": "咨询",
    "praise": "表扬",
    "service_request": "服务申请",
    "payment": "催费/缴费",
}
ORDER_SOURCES: dict[str, str] = {
    "95598": "95598热线",
    "grid_member": "网格员",
    "online": "网上国网/微信",
    "onsite": "现场",
    "other": "其他",
}
ORDER_STATUSES: dict[str, str] = {
    "reported": "已受理",
    "dispatched": "已派单",
    "departed": "已出发",
    "arrived": "已到达",
    "repaired": "已修复",
    "closed": "已办结",
    "called_back": "已回访",
}
FAULT_KINDS: dict[str, str] = {
    "hv": "高压故障",
    "lv": "低压故障",
    "customer_internal": "客户内部故障",
}
SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "dissatisfied": "不满意",
}
# the order's timeline: each time present is never before any earlier one present
TIME_COLUMNS = (
    "reported_at",
    "dispatched_at",
    "departed_at",
    "arrived_at",
    "repaired_at",
    "closed_at",
    "called_back_at",
)
ORDER_COLUMNS = (
    "order_id",
    "kind",
    "source",
    "status",
    "customer_id",
    "address",
    "location_source",
    *TIME_COLUMNS,
    "grid_t1",
    "grid_t2",
    "grid_t3",
    "town",
    "village",
    "station_id",
    "crew",
    "member",
    "predicted_eta_s",
    "fault_kind",
    "outage_start",
    "outage_end",
    "customers_affected",
    "planned",
    "result",
    "satisfaction",
    "first_time",
    "repeat_of",
)

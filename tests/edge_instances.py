"""Small edge instances, written into a folder on demand (hand-checkable numbers).

* ``nothing``: nothing to decide — a source of 100 t/yr through a process (90 % yield) into two sinks;
  losses are 10 t/yr of process loss, every year.
* ``no_stock``: no stock node; a split with a free share (landfill 0.2–0.6, baseline 0.4) decides
  between landfill (dissipation) and a recycling process (95 %) into a market; no sink of type
  ``surplus``, ``hibernation``...
* ``single_year``: the ``no_stock`` network over one year.
* ``stock_one_year``: a stock with a fixed 1-year lifetime over one year (outflow 0 in that year).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

STREAMS = {"metal": {"composition": {"A": 0.8}, "source": "estimate"}}

NOTHING = {
    "name": "edge_nothing", "unit": "t", "years": [2020, 2022], "elements": ["A"], "streams": STREAMS,
    "nodes": {
        "supply": {"kind": "source", "stream": "metal", "series": 100, "to": "refine", "source": "estimate"},
        "refine": {"kind": "process", "to": {"market": 0.9, "slag": "rest"}, "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
        "slag": {"kind": "sink", "loss": "process"},
    },
    "ranges": {"nodes.refine.to.market": [0.85, 0.95]},
}

NO_STOCK = {
    "name": "edge_no_stock", "unit": "t", "years": [2020, 2023], "elements": ["A"], "streams": STREAMS,
    "nodes": {
        "scrap": {"kind": "source", "stream": "metal", "series": 100, "to": "eol", "source": "estimate"},
        "eol": {"kind": "split", "routes": {"recycle": "remelt", "landfill": "landfill"},
                "baseline": {"landfill": 0.4, "recycle": "rest"}, "shares": {"landfill": [0.2, 0.6]},
                "source": "estimate"},
        "remelt": {"kind": "process", "to": {"market": 0.95, "slag": "rest"}, "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
        "slag": {"kind": "sink", "loss": "process"},
    },
    "ranges": {"nodes.remelt.to.market": [0.9, 0.99]},
}

SINGLE_YEAR = copy.deepcopy(NO_STOCK) | {"name": "edge_single_year", "years": [2020, 2020]}

STOCK_ONE_YEAR = {
    "name": "edge_stock_one_year", "unit": "t", "years": [2020, 2020], "elements": ["A"], "streams": STREAMS,
    "nodes": {
        "production": {"kind": "source", "stream": "metal", "series": 50, "to": "use", "source": "estimate"},
        "use": {"kind": "stock", "lifetime": {"model": "fixed", "mean": 1}, "to": "eol", "source": "estimate"},
        "eol": {"kind": "split", "routes": {"recycle": "market", "landfill": "landfill"},
                "baseline": {"landfill": 0.5, "recycle": "rest"}, "shares": {"landfill": [0.1, 0.9]},
                "source": "estimate"},
        "market": {"kind": "sink", "loss": "export"},
        "landfill": {"kind": "sink", "loss": "dissipation"},
    },
}

EDGES = {"nothing": NOTHING, "no_stock": NO_STOCK, "single_year": SINGLE_YEAR, "stock_one_year": STOCK_ONE_YEAR}


def write_edge(name: str, parent: Path) -> Path:
    """Write the edge instance ``name`` as an instance folder under ``parent`` and return it."""
    folder = Path(parent) / f"edge_{name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.csv").write_text("source_id,citation\nestimate,test instance (hand-made)\n")
    (folder / "instance.yaml").write_text(yaml.safe_dump(EDGES[name], sort_keys=False))
    return folder

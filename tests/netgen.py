"""Random valid instances for property tests (hypothesis strategies)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

ELEMENTS = ["A", "B"]


def _frac(draw, lo=0.0, hi=1.0):
    return round(draw(st.floats(lo, hi, allow_nan=False)), 6)


def _composition(draw):
    a = _frac(draw, 0.0, 0.9)
    b = _frac(draw, 0.0, 1.0 - a)
    return {"A": a, "B": b}


def _lifetime(draw):
    model = draw(st.sampled_from(["fixed", "normal", "lognormal", "weibull", "folded_normal"]))
    mean = draw(st.integers(1, 6)) if model == "fixed" else round(draw(st.floats(1.0, 8.0)), 3)
    if model == "fixed":
        return {"model": "fixed", "mean": mean}
    sd = round(draw(st.floats(0.1, mean / 3.5 if model == "normal" else mean)), 3)
    return {"model": model, "mean": mean, "sd": sd}


@st.composite
def random_instance(draw) -> dict:
    """A random network: sources -> a stock with lives -> end-of-life split -> process with
    element-specific yields (optionally a same-year scrap loop) -> blend or sink."""
    T = draw(st.integers(3, 8))
    years = [2000, 2000 + T - 1]
    n_src = draw(st.integers(1, 2))
    streams = {f"s{i}": {"composition": _composition(draw), "source": "estimate"} for i in range(n_src)}
    lives = draw(st.integers(0, 2))
    nodes: dict = {}
    for i in range(n_src):
        series = {2000: round(draw(st.floats(0.0, 100.0)), 3), 2000 + T - 1: round(draw(st.floats(0.0, 100.0)), 3),
                  "fill": "interpolate"}
        nodes[f"src{i}"] = {"kind": "source", "composition": "s0", "series": series, "to": "use", "source": "estimate"}
    # one stream composition into the stock keeps the split's input composition known
    stock = {"kind": "stock", "lifetime": _lifetime(draw), "to": "eol", "source": "estimate"}
    if lives:
        stock["lives"] = lives
        if draw(st.booleans()):
            stock["later_lives"] = {"lifetime": _lifetime(draw)}
    nodes["use"] = stock
    routes = {"recycle": "proc", "lose": "landfill"}
    base = {"lose": _frac(draw, 0.0, 0.5)}
    if lives:
        routes["reuse"] = "use.next_life"
        r = _frac(draw, 0.0, 1.0 - base["lose"])
        base["reuse"] = {lv: (r if lv <= lives else 0.0) for lv in range(1, lives + 2)}
    base["recycle"] = "rest"
    nodes["eol"] = {"kind": "split", "routes": routes, "baseline": base, "source": "estimate"}
    if lives:
        nodes["eol"]["over"] = ["life"]
    ya, yb, yd = _frac(draw, 0.5, 1.0), _frac(draw, 0.5, 1.0), _frac(draw, 0.5, 1.0)
    loop = draw(st.booleans())
    proc_to = {"out": {"A": ya, "B": yb, "default": yd}, "slag": "rest"}
    nodes["proc"] = {"kind": "process", "to": proc_to, "source": "estimate"}
    if loop:  # fabrication with a same-year scrap loop back into the process
        nodes["proc"]["to"] = {"fab": {"A": ya, "B": yb, "default": yd}, "slag": "rest"}
        fy = _frac(draw, 0.1, 0.95)
        nodes["fab"] = {"kind": "process", "to": {"out": fy, "proc": "rest"}, "source": "estimate"}
    use_blend = draw(st.booleans()) and not loop
    if use_blend:
        nodes["out"] = {
            "kind": "blend", "source": "estimate", "surplus": "surplus",
            "outputs": {"p": {"to": "market", "demand": round(draw(st.floats(0.0, 80.0)), 3)},
                        "q": {"to": "market2"}},
            "allocation": {"proc": {"p": _frac(draw, 0.0, 0.6), "q": _frac(draw, 0.0, 0.4)}},
        }
        # priced free sources (primary metal, a pure addition) make up p's shortfall in the baseline
        mk = _frac(draw, 0.0, 1.0)
        nodes["out"]["allocation"].update({"primary": {"p": mk}, "addition": {"p": round(1.0 - mk, 6)}})
        if draw(st.booleans()):  # a second output with a demand and a composition window
            lo = _frac(draw, 0.0, 0.2)
            nodes["out"]["outputs"]["q"].update({"demand": round(draw(st.floats(0.0, 40.0)), 3),
                                                 "window": {"A": [lo, round(lo + _frac(draw, 0.05, 0.8), 6)]}})
            nodes["out"]["allocation"]["primary"]["q"] = 1.0
        price = {"energy": _frac(draw, 0.0, 20.0), "co2": _frac(draw, 0.0, 5.0), "cost": _frac(draw, 0.1, 3.0)}
        nodes["primary"] = {"kind": "source", "free": True, "composition": _composition(draw), "to": "out",
                            "source": "estimate", **price}
        nodes["addition"] = {"kind": "source", "free": True, "composition": {"B": 1.0}, "to": "out",
                             "source": "estimate", "energy": 5.0, "co2": 1.0, "cost": 4.0}
        nodes["market"] = {"kind": "sink", "loss": "export"}
        nodes["market2"] = {"kind": "sink", "loss": "export"}
        nodes["surplus"] = {"kind": "sink", "loss": "surplus"}
    else:
        nodes["out"] = {"kind": "sink", "loss": "export"}
    nodes["landfill"] = {"kind": "sink", "loss": "dissipation"}
    nodes["slag"] = {"kind": "sink", "loss": "process"}
    return {"name": "random", "unit": "t", "years": years, "elements": ELEMENTS, "compositions": streams,
            "nodes": nodes}


def write_sources(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.csv").write_text("source_id,citation\nestimate,test\n")
    return folder

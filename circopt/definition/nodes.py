"""Node building, one function per kind: each reads its node's keys, resolves its numbers
(:mod:`.params`) and adds its streams (edges) to the network being loaded."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InstanceError
from ..system import EXPORTED, LOSS_TYPES, OTHER, Blend, BlendOutput, Node
from . import checks, compositions, expand, history
from .lifetime import make_lifetime
from .schema import BLEND_OUTPUT_KEYS, PRICES, REMOVED_KEYS, SUM_TOL


def build_node(b, nid: int, spec: dict) -> None:
    """Build member ``nid`` of a family from its spec (``kind: export`` is a sink or, under the
    global view with a fate abroad, a process). The kind's function collects the node's fields
    in ``f``; the node (a frozen record) is then replaced by one with them."""
    node = b.nodes[nid]
    key = f"nodes.{node.family}"
    f: dict[str, Any] = {}
    if spec.get("kind") == "export":
        f["exported"] = True  # results report its inflow as kind 'exported'
        if spec.get("abroad") is not None:
            tgt = expand.ref(b, spec["abroad"], nid, f"{key}.abroad")
            if tgt is None:
                raise InstanceError(b.where(f"{key}.abroad"), "the fate abroad must be a node", spec["abroad"])
            # under the domestic view nothing reaches it: not a dangling node
            b.nodes[tgt] = replace(b.nodes[tgt], fate_abroad_of=node.name)
        if node.kind == "process":
            node_process(b, nid, node, {"to": spec["abroad"]}, key, f)
        else:
            f["loss"] = EXPORTED
    else:
        KINDS[node.kind](b, nid, node, spec, key, f)
    b.nodes[nid] = replace(b.nodes[nid], **f)  # read again: another node may have set its fate abroad


def per_unit(b, node, spec, name, key) -> np.ndarray | None:
    if name not in spec:
        return None
    return b.ctx.resolve(spec[name], f"{key}.{name}", node.index)


def node_source(b, nid, node: Node, spec, key, f: dict):
    f["free"] = free = bool(spec.get("free", False))
    if "follows" in spec:
        if "series" in spec or free:
            raise InstanceError(b.where(f"{key}.follows"), "a following source has no series and is "
                                "not free", expected="either 'follows' + 'ratio', 'series', or 'free: true'")
        tgt = expand.ref(b, spec["follows"], nid, f"{key}.follows")
        if tgt is None:
            raise InstanceError(b.where(f"{key}.follows"), "cannot follow a life past the last")
        f["follows"] = tgt
        if "ratio" not in spec:
            raise InstanceError(b.where(f"{key}.ratio"), "a following source needs 'ratio' "
                                "(its amount per unit of the followed node's input)")
        f["ratio"] = b.ctx.resolve(spec["ratio"], f"{key}.ratio", node.index)
    elif "ratio" in spec:
        raise InstanceError(b.where(f"{key}.ratio"), "'ratio' only goes with 'follows'")
    if "series" in spec:
        if free:
            raise InstanceError(b.where(f"{key}.series"), "a free source has no series", spec["series"],
                                expected="either 'series' or 'free: true'")
        f["series"] = b.ctx.resolve(spec["series"], f"{key}.series", node.index, mass=True)
    if "max" in spec:
        f["max_series"] = b.ctx.resolve(spec["max"], f"{key}.max", node.index, mass=True)
    f["cost"] = per_unit(b, node, spec, "cost", key)
    f["energy"] = per_unit(b, node, spec, "energy", key)
    f["co2"] = per_unit(b, node, spec, "co2", key)
    if free:
        missing = [k for k in PRICES if k not in spec]
        if missing:
            raise InstanceError(b.where(f"{key}.{missing[0]}"), f"free source {node.name} has no "
                                f"{', '.join(repr(k) for k in missing)}: the optimiser may draw on it, so every "
                                "objective that counts energy, co2 or cost must see what it supplies",
                                expected="energy, co2 and cost per unit supplied (write 0 where it is truly "
                                "zero; the node's 'source' ids cite it)")
    named = "composition" if isinstance(spec.get("composition"), str) else "stream" if "stream" in spec else None
    if named == "stream":
        b.deprecated("stream", key)
    if named:
        f["composition"] = compositions.named(b, spec[named], node.index, f"{key}.{named}")
    elif "composition" in spec:
        f["composition"] = compositions.composition(b, spec["composition"], f"{key}.composition", node.index)
    else:
        raise InstanceError(b.where(key), "a source needs a 'composition' (a mapping, or the name of one "
                            "of the top-level 'compositions')")
    to = spec.get("to")
    if to is None:
        raise InstanceError(b.where(f"{key}.to"), "a source needs a target")
    targets = {to: 1.0} if isinstance(to, str) else to
    if not isinstance(targets, dict):
        raise InstanceError(b.where(f"{key}.to"), "expected a node or a mapping node -> fraction", to)
    total = np.zeros(b.T)
    for ref, frac in targets.items():
        tgt = expand.ref(b, ref, nid, f"{key}.to")
        if tgt is None:
            raise InstanceError(b.where(f"{key}.to"), "a source cannot send to a life past the last", ref)
        f = b.ctx.resolve(frac, f"{key}.to.{ref}", node.index, fraction=True)
        total += f
        b.edge(nid, tgt, ref, "source", f"{key}.to", coef=f)
    if np.any(np.abs(total - 1) > SUM_TOL):
        raise InstanceError(b.where(f"{key}.to"), "fractions to targets do not sum to 1",
                            f"{total.min():.12g}", expected=f"1 within {SUM_TOL}")


def transfer_coefficients(b, spec: Any, key: str, index: dict) -> np.ndarray | str:
    """A transfer coefficient: number/table for all channels, or a mapping by element (+default)."""
    if spec == "rest":
        return "rest"
    out = np.zeros((b.T, b.C))
    if isinstance(spec, dict) and "file" not in spec and set(map(str, spec)) <= {*b.elements, "default", OTHER}:
        default = spec.get("default")
        for ci, ch in enumerate(b.channels):
            v = spec.get(ch, default)
            if v is None:
                raise InstanceError(b.where(key), f"no transfer coefficient for '{ch}'",
                                    expected="a value for every element, or 'default'")
            out[:, ci] = b.ctx.resolve(v, f"{key}.{ch}", index, fraction=True)
        return out
    v = b.ctx.resolve(spec, key, index, fraction=True)
    out[:] = v[:, None]
    return out


def node_process(b, nid, node: Node, spec, key, f: dict):
    to = spec.get("to")
    if to is None:
        raise InstanceError(b.where(f"{key}.to"), "a process needs 'to'")
    targets = {to: 1.0} if isinstance(to, str) else to
    if not isinstance(targets, dict) or not targets:
        raise InstanceError(b.where(f"{key}.to"), "expected a node or mapping node -> coefficient", to)
    tcs, rest = {}, None
    for ref, tcspec in targets.items():
        tc = transfer_coefficients(b, tcspec, f"{key}.to.{ref}", node.index)
        if isinstance(tc, str):
            if rest is not None:
                raise InstanceError(b.where(f"{key}.to"), "only one output may be 'rest'", ref)
            rest = ref
        else:
            tcs[ref] = tc
    s = sum(tcs.values()) if tcs else np.zeros((b.T, b.C))
    if rest is not None:
        if np.any(s > 1 + SUM_TOL):
            raise InstanceError(b.where(f"{key}.to"), "coefficients exceed 1 before 'rest'",
                                f"{s.max():.12g}")
        tcs[rest] = np.clip(1.0 - s, 0.0, None)
    else:
        dev = np.abs(s - 1.0)
        if np.any(dev > SUM_TOL):
            t, c = np.unravel_index(int(np.argmax(dev)), dev.shape)
            raise InstanceError(b.where(f"{key}.to"), "transfer coefficients do not sum to 1 for "
                                f"'{b.channels[c]}' in {int(b.years[t])}", f"{s[t, c]:.12g}",
                                expected=f"1 within {SUM_TOL} (or mark one output 'rest')")
    targets_ok = {ref: expand.ref(b, ref, nid, f"{key}.to") for ref in tcs}
    if any(t is None for t in targets_ok.values()):
        # a member that would send past the last life exists only if nothing reaches it
        # (e.g. remanufacturing at the last life, whose route into it does not exist)
        f["past_last_life"] = [r for r, t in targets_ok.items() if t is None]
        return
    for ref, tc in tcs.items():
        b.edge(nid, targets_ok[ref], ref, "tc", f"{key}.to.{ref}", coef=tc)
    f["energy"] = per_unit(b, node, spec, "energy", key)
    f["co2"] = per_unit(b, node, spec, "co2", key)
    f["cost"] = per_unit(b, node, spec, "cost", key)


def node_stock(b, nid, node: Node, spec, key, f: dict):
    life = int(node.index.get("life", 1))
    f["life"] = life
    lt_spec = spec.get("lifetime")
    lt_key = f"{key}.lifetime"
    later = spec.get("later_lives")
    if life > 1 and later is not None:
        if not isinstance(later, dict) or "lifetime" not in later:
            raise InstanceError(b.where(f"{key}.later_lives"), "expected {lifetime: {...}}", later)
        lt_spec, lt_key = later["lifetime"], f"{key}.later_lives.lifetime"
    if not isinstance(lt_spec, dict):
        raise InstanceError(b.where(lt_key), "a stock needs a lifetime {model: ..., mean: ..., sd: ...}",
                            lt_spec)
    resolved = {}
    for k, v in lt_spec.items():
        if k in ("model",):
            resolved[k] = v
        elif k == "pmf":
            resolved[k] = v
        else:
            arr = b.ctx.resolve(v, f"{lt_key}.{k}", node.index, nonneg=False)
            resolved[k] = float(arr[0]) if np.all(arr == arr[0]) else arr.tolist()
    f["lifetime"] = make_lifetime(resolved, where=b.where(lt_key), n_cohorts=b.T)
    to = spec.get("to")
    if to is None:
        raise InstanceError(b.where(f"{key}.to"), "a stock needs 'to' (where its outflow goes)")
    tgt = expand.ref(b, to, nid, f"{key}.to")
    if tgt is None:
        raise InstanceError(b.where(f"{key}.to"), "a stock's outflow cannot go past the last life", to)
    b.edge(nid, tgt, str(to), "stock", f"{key}.to")
    hist_comp = None
    hkey = "history_composition" if "history_composition" in spec else "history_stream"
    if hkey == "history_stream" and hkey in spec:
        b.deprecated("history_stream", key)
    if hkey in spec:
        hs = spec[hkey]
        if isinstance(hs, dict):  # one stream per member of the family, keyed by a dimension's values
            hs = next((hs[str(v)] if str(v) in hs else hs.get(v) for v in node.index.values()
                       if str(v) in map(str, hs)), None)
            if hs is None:
                raise InstanceError(b.where(f"{key}.{hkey}"), f"no composition for {node.name}",
                                    list(spec[hkey]), expected=f"a key among {list(node.index.values())}")
        hist_comp = compositions.named(b, hs, node.index, f"{key}.{hkey}")
    if "history" in spec or "initial_stock" in spec:
        if hist_comp is None:
            raise InstanceError(b.where(f"{key}.history_composition"),
                                "a stock with history or initial_stock needs 'history_composition' (the name of "
                                "its composition)")
        built = replace(node, **f)  # its lifetime turns an initial stock into cohorts
        f["history_years"], f["history"] = history.history(b, built, spec, key, hist_comp[0])
    if "stock" in spec:
        f["target_stock"] = b.ctx.resolve(spec["stock"], f"{key}.stock", node.index, mass=True)
        f["negative_inflow"] = policy = spec.get("negative_inflow", "error")
        if policy not in ("error", "clip"):
            raise InstanceError(b.where(f"{key}.negative_inflow"), "unknown policy",
                                policy, expected="'error' or 'clip'")


def node_split(b, nid, node: Node, spec, key, f: dict):
    """Routes with share bounds (a decision), an optional baseline (simulation), capacities
    and per-unit energy, co2 and cost."""
    routes = spec.get("routes")
    if not isinstance(routes, dict) or not routes:
        raise InstanceError(b.where(f"{key}.routes"), "a split needs routes {name: target}", routes)
    shares = spec.get("shares") or {}
    baseline = spec.get("baseline")
    capacity = spec.get("capacity") or {}
    for sect, m in (("shares", shares), ("capacity", capacity)) + ((("baseline", baseline),) if baseline else ()):
        _keys_among(b, m, f"{key}.{sect}", list(routes), "a mapping route -> value", "route")
    made, base_vals, rest_route = [], {}, None
    for r, ref in routes.items():
        rk = f"{key}.routes.{r}"
        checks.require_name(r, b.where(rk), "a route name")
        tgt = expand.ref(b, ref, nid, rk)
        lo, hi = _share_bounds(b, node, shares.get(r, [0.0, 1.0]), f"{key}.shares.{r}")
        if baseline is not None:
            share = baseline.get(r, 0.0)
            if share == "rest":
                if rest_route is not None:
                    raise InstanceError(b.where(f"{key}.baseline"), "only one route may be 'rest'")
                rest_route = r
            else:
                base_vals[r] = b.ctx.resolve(share, f"{key}.baseline.{r}", node.index, fraction=True)
        if tgt is None:  # past the last life: the route does not exist for this member
            if baseline is not None and r in base_vals and np.any(base_vals[r] > 0):
                raise InstanceError(b.where(f"{key}.baseline.{r}"),
                                    f"route '{r}' of {node.name} leads past the last life; its share must be 0",
                                    f"{base_vals[r].max():.6g}", expected="0 for the last life (a per-life table)")
            if np.any(lo > 0):
                raise InstanceError(b.where(f"{key}.shares.{r}"),
                                    f"route '{r}' of {node.name} leads past the last life; its min share must be 0")
            base_vals.pop(r, None)
            continue
        cap = (b.ctx.resolve(capacity[r], f"{key}.capacity.{r}", node.index, mass=True)
               if r in capacity else None)
        prices = [route_param(b, spec, p, r, key, node) for p in ("energy", "co2", "cost")]
        made.append((r, tgt, lo, hi, cap, *prices))
    _check_share_sums(b, node, made, key)
    if baseline is not None:
        _complete_baseline(b, node, base_vals, rest_route, [m[0] for m in made], key)
    for r, tgt, lo, hi, cap, en, co, cs in made:
        coef = base_vals.get(r, np.zeros(b.T)) if baseline is not None else None
        b.edge(nid, tgt, r, "route", f"{key}.routes.{r}", coef=coef, lo=lo, hi=hi, capacity=cap,
               energy=en, co2=co, cost=cs)


def _share_bounds(b, node: Node, lohi, key: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(lohi, list) or len(lohi) != 2:
        raise InstanceError(b.where(key), "expected [min, max]", lohi)
    lo = b.ctx.resolve(lohi[0], f"{key}[0]", node.index, fraction=True)
    hi = b.ctx.resolve(lohi[1], f"{key}[1]", node.index, fraction=True)
    if np.any(lo > hi + SUM_TOL):
        raise InstanceError(b.where(key), "min share above max share", lohi)
    return lo, hi


def _check_share_sums(b, node: Node, made: list, key: str) -> None:
    if not made:
        raise InstanceError(b.where(f"{key}.routes"), f"no route of {node.name} leads anywhere")
    los = sum(m[2] for m in made)
    his = sum(m[3] for m in made)
    if np.any(los > 1 + SUM_TOL) or np.any(his < 1 - SUM_TOL):
        t = int(np.argmax((los > 1 + SUM_TOL) | (his < 1 - SUM_TOL)))
        raise InstanceError(b.where(f"{key}.shares"), f"share bounds of {node.name} cannot sum to 1 in "
                            f"{int(b.years[t])}", f"sum of min {los[t]:.6g}, sum of max {his[t]:.6g}",
                            expected="sum of min <= 1 <= sum of max")


def _complete_baseline(b, node: Node, base_vals: dict, rest_route: str | None, live: list[str], key: str) -> None:
    """Baseline shares sum to 1; a 'rest' route takes 1 minus the others (set in ``base_vals``)."""
    s = sum(base_vals.values()) if base_vals else np.zeros(b.T)
    if rest_route is not None:
        if rest_route not in live:
            raise InstanceError(b.where(f"{key}.baseline"), "the 'rest' route leads past the last life")
        if np.any(s > 1 + SUM_TOL):
            raise InstanceError(b.where(f"{key}.baseline"), f"baseline shares of {node.name} exceed 1",
                                f"{s.max():.12g}")
        base_vals[rest_route] = np.clip(1 - s, 0, None)
    elif np.any(np.abs(s - 1) > SUM_TOL):
        t = int(np.argmax(np.abs(s - 1)))
        raise InstanceError(b.where(f"{key}.baseline"), f"baseline shares of {node.name} do not sum "
                            f"to 1 in {int(b.years[t])}", f"{s[t]:.12g}",
                            expected=f"1 within {SUM_TOL} (or mark one route 'rest')")


def _keys_among(b, m: Any, key: str, allowed: list, form: str, what: str) -> None:
    """``m`` is a mapping whose keys are among ``allowed`` (routes of a split, outputs of a blend)."""
    if not isinstance(m, dict):
        raise InstanceError(b.where(key), f"expected {form}", m)
    for k in m:
        if k not in allowed:
            raise InstanceError(b.where(f"{key}.{k}"), f"unknown {what}", k, expected=f"one of {allowed}")


def route_param(b, spec, name, route, key, node):
    m = spec.get(name)
    if m is None:
        return None
    if not isinstance(m, dict):
        raise InstanceError(b.where(f"{key}.{name}"), "expected a mapping route -> value per unit", m)
    if route not in m:
        return None
    return b.ctx.resolve(m[route], f"{key}.{name}.{route}", node.index)


def node_blend(b, nid, node: Node, spec, key, f: dict):
    outs = spec.get("outputs")
    if not isinstance(outs, dict) or not outs:
        raise InstanceError(b.where(f"{key}.outputs"), "a blend needs outputs {name: {to, demand, window}}",
                            outs)
    outputs = []
    for oname, ospec in outs.items():
        ok = f"{key}.outputs.{oname}"
        checks.require_name(oname, b.where(ok), "a blend output name")
        if not isinstance(ospec, dict) or "to" not in ospec:
            raise InstanceError(b.where(ok), "expected {to: node, demand: ..., window: {...}}", ospec)
        for k in ospec:
            if ("output", k) in REMOVED_KEYS:
                raise InstanceError(b.where(f"{ok}.{k}"), REMOVED_KEYS[("output", k)])
            if k not in BLEND_OUTPUT_KEYS:
                raise InstanceError(b.where(f"{ok}.{k}"), "unknown key", expected=f"one of {sorted(BLEND_OUTPUT_KEYS)}")
        tgt = expand.ref(b, ospec["to"], nid, f"{ok}.to")
        if tgt is None:
            raise InstanceError(b.where(f"{ok}.to"), "a blend output cannot go past the last life")
        e = b.edge(nid, tgt, str(oname), "blend_out", ok)
        demand = (b.ctx.resolve(ospec["demand"], f"{ok}.demand", node.index, mass=True)
                  if "demand" in ospec else None)
        wlo = np.zeros((b.T, b.C))
        whi = np.ones((b.T, b.C))
        for el, lohi in (ospec.get("window") or {}).items():
            if el not in b.elements:
                raise InstanceError(b.where(f"{ok}.window.{el}"), "unknown element", el,
                                    expected=f"one of {b.elements}")
            if not isinstance(lohi, list) or len(lohi) != 2:
                raise InstanceError(b.where(f"{ok}.window.{el}"), "expected [min, max] mass fraction", lohi)
            ci = b.elements.index(el)
            wlo[:, ci] = b.ctx.resolve(lohi[0], f"{ok}.window.{el}[0]", node.index, fraction=True)
            whi[:, ci] = b.ctx.resolve(lohi[1], f"{ok}.window.{el}[1]", node.index, fraction=True)
            if np.any(wlo[:, ci] > whi[:, ci]):
                raise InstanceError(b.where(f"{ok}.window.{el}"), "window min above max", lohi)
        bo = BlendOutput(name=str(oname), edge=e.id, demand=demand, window_lo=wlo, window_hi=whi)
        outputs.append(bo)
    surplus = spec.get("surplus")
    s_edge = None
    if surplus is not None:
        tgt = expand.ref(b, surplus, nid, f"{key}.surplus")
        exported = tgt is not None and (b.doc.get("nodes") or {}).get(b.nodes[tgt].family, {}).get("kind") == "export"
        if tgt is None or (b.nodes[tgt].kind != "sink" and not exported):
            raise InstanceError(b.where(f"{key}.surplus"), "the surplus outlet must be a sink (or an "
                                "export node)", surplus)
        s_edge = b.edge(nid, tgt, "surplus", "surplus", f"{key}.surplus").id
    alloc = spec.get("allocation") or {}
    if not isinstance(alloc, dict):
        raise InstanceError(b.where(f"{key}.allocation"), "expected {input node: {output: share}}", alloc)
    onames = [o.name for o in outputs]
    for src, m in alloc.items():
        _keys_among(b, m, f"{key}.allocation.{src}", onames, "{output: share}", "output")
    b.blends.append(Blend(node=nid, inputs=[], outputs=outputs, surplus_edge=s_edge,
                             allocation=np.zeros((0, len(outputs), b.T))))
    # values are resolved now (any parameter form: number, table, year or dimension mapping);
    # which input each belongs to is matched once every stream exists (derive.blend_allocations)
    resolved = {src: {o: b.ctx.resolve(v, f"{key}.allocation.{src}.{o}", node.index, fraction=True)
                      for o, v in m.items()} for src, m in alloc.items()}
    b.alloc_specs[len(b.blends) - 1] = resolved


def node_sink(b, nid, node: Node, spec, key, f: dict):
    if "loss" not in spec:
        raise InstanceError(b.where(f"{key}.loss"), "a sink needs 'loss:', the kind of outflow it is",
                            expected=f"one of {list(LOSS_TYPES)}")
    loss = spec["loss"]
    if loss == "other":
        b.deprecated("loss: other", key)
        loss = "unspecified"
    if loss not in LOSS_TYPES:
        raise InstanceError(b.where(f"{key}.loss"), "unknown loss type", loss,
                            expected=f"one of {list(LOSS_TYPES)}")
    if loss == "export":
        warnings.warn(f"{b.where(key)}: 'loss: export' is deprecated: for material that leaves the "
                      "region write 'kind: export' (reported as exported, counted as lost to the region by "
                      "default); for an outlet that is not a loss write 'loss: unspecified'",
                      DeprecationWarning, stacklevel=2)
    f["loss"] = loss



KINDS = {"source": node_source, "process": node_process, "stock": node_stock, "split": node_split,
         "blend": node_blend, "sink": node_sink}

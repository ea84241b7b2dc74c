"""Reading and checking instance definitions: the only code that reads instance files.

* :mod:`.load`: :func:`~.load.load` / :func:`~.load.build`, the stages in order, one System out;
* :mod:`.files`: confined file access inside an instance folder, bounded YAML, the content hash;
* :mod:`.schema`: the keys accepted, canonical and deprecated spellings, the header;
* :mod:`.scenarios`: scenario files (override, ``add:``, ``replace:``, ``extends:``);
* :mod:`.params`: numeric parameters -> arrays over the model years;
* :mod:`.compositions`: the sources table and named compositions;
* :mod:`.expand`: dimensions, node families and references between their members;
* :mod:`.nodes` (+ :mod:`.history`): node building per kind;
* :mod:`.dotted`: dotted paths into a document (ranges of estimates are :mod:`circopt.ranges`);
* :mod:`.derive`: data derived before the System is handed down (blend allocations, driven sources);
* :mod:`.checks`: value-level rules (years, fills, names, magnitudes) and the study settings
  (user constraints, levers, trace) that ``circopt check`` validates before any engine runs.
"""

"""Reading and checking instance definitions (the loader's building blocks).

* :mod:`.files`: confined file access inside an instance folder, bounded YAML, the content hash;
* :mod:`.checks`: value-level rules (years, fills, names, magnitudes) and the study settings
  that ``circopt check`` validates before any engine runs.
"""

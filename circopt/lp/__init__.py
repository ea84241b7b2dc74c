"""The optimisation engine: the simulator's equations, time-expanded into one LP, solved by HiGHS.

The LP is built from the same :class:`~circopt.system.System` the simulator reads; nothing here
describes the network a second time. Flows are indexed like the simulator's result,
``flow[t, e, c]`` (year, edge, channel; channels = tracked elements + ``other``), and every flow
is an affine function of the LP's columns, held as one sparse *flow map* ``flow = G @ x + g``.
The public verbs are :func:`circopt.optimise` (:func:`.solve.optimise`), :func:`.build.build_model`
and :func:`.solve.solve`, also importable from :mod:`circopt.model`.

One idea per module, in the order a model is made and solved:

* :mod:`.index` -- the :class:`~.index.OptModel` record: what each column and row is (kind arrays)
  and its readable name in the instance's words;
* :mod:`.select` -- counted years, year windows, element weights, one stream;
* :mod:`.build` -- ``build_model``: the steps below, in order;
* :mod:`.assemble` -- which edges a decision changes, the constants (by the simulator itself),
  the flow map ``G`` edge rule by edge rule;
* :mod:`.columns` -- the columns (routes, allocations, leftovers, supplies, state inputs, capacities);
* :mod:`.rows` -- one function per row family (balances, splits' shares and capacities, blends'
  allocations, demands and windows, supply maxima, epsilon bounds);
* :mod:`.user_rows` -- user constraints: validation and rows;
* :mod:`.objective` -- objective terms and their weights, epsilon bounds;
* :mod:`.fix` -- ``fix=``: a run's decisions imposed, policy rows checked instead of enforced;
* :mod:`.pyomo_model` -- the Pyomo model (one ``Var``, one ``MatrixConstraint``) users can add to;
* :mod:`.highs` -- the hand-over to HiGHS (hand-written additions compiled, scaling, a quiet solver);
* :mod:`.solve` -- ``optimise`` and ``solve``;
* :mod:`.postsolve` -- every mass balance closed to round-off, in time linear in the model size;
* :mod:`.verify` -- every solution checked on the unscaled model before it is called optimal;
* :mod:`.solution` -- the Result: flows, stocks, decisions with their bounds, duals;
* :mod:`.diagnose` -- infeasible (an irreducible infeasible subset, what to relax) and unbounded models;
* :mod:`.params` -- a built model re-parameterised by one number of a user constraint (copies, warm
  re-solves: :func:`circopt.studies.whatif`).
"""

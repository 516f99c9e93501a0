"""Pure asset-lifecycle engine: the rules of SPEC §4 and §9, with no I/O, no Faust and no clock.

Modules: `events` (what the fold consumes), `operations` (one function per rule),
`fold_pass` (one pass: renewals, operations, deltas), `fold` (`FoldLog`: the set of
events, checkpoints, `as_of`), `voids` (corrections), `state` and `snapshot`
(the folded state and its published view), `ledger` (entries, pending clocks,
versions, transfer targets), `months` and `money` (SPEC §4.3), `accounts` (§10).
"""

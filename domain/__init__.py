"""Pure asset-lifecycle engine: the rules of SPEC §4, with no I/O, no Faust and no clock."""

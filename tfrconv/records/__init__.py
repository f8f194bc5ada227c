"""Records in, records out: `tfrconv records ...` and the library functions behind it.

One module per job: `reading` (any producer's records back as payloads, features or `Sample`s,
with the damaged-record policy), `output` (sharded, atomic output with its manifest and label
map), `relabel` (class rewriting: merged label maps, remap, filter), `merge`, `reshard`,
`split`, `transform` (filter and remap), `diff`, `show` (cat/head) and `commands` (the CLI's
declarations). Nothing heavy is imported here: `tfrconv --help` imports `commands`.
"""

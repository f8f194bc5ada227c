"""The protobuf schema tfrconv ships: the upstream `.proto` sources vendored under `src/`, and
`descriptors.binpb`, what protoc compiles them into (`python -m tfrconv.protos.generate`; see
NOTICE.md). At run time only `descriptors.binpb` is read, by `tfrconv.proto`."""

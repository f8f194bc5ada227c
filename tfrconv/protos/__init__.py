"""The protobuf schema tfrconv ships: upstream descriptors as data (`descriptors.binpb`), and the
script that regenerates them (`python -m tfrconv.protos.generate`). `tfrconv.proto` loads them."""

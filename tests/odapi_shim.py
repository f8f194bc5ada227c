"""The OD API's own `TfExampleDecoder`, hosted in a child process for tests/odapi.py.

Why a child process: the OD API 2.8 wheel's generated `*_pb2.py` modules predate protobuf 4 and
import only under the pure-Python protobuf (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python, the
OD API's documented workaround), which must be chosen before protobuf is first imported; the
test process has long since imported it. The child sets it, imports the decoder unmodified, and
answers requests: pickled dicts in on stdin, pickled answers out on the original stdout (anything
else printing to stdout is moved to stderr so it cannot corrupt the stream).

The one shim: tf_slim 1.1's `tfexample_decoder` calls `control_flow_ops.case` and `.cond`, which
TensorFlow 2.x no longer has in `tensorflow.python.ops.control_flow_ops`; they are the public
`tf.case` and `tf.cond` under their old names.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile


def install_tf2_shim() -> None:
    """Give `control_flow_ops` back the `case` and `cond` tf_slim 1.1 calls."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_ops

    for name in ("case", "cond"):
        if not hasattr(control_flow_ops, name):
            setattr(control_flow_ops, name, getattr(tf, name))


def describe_spec(spec) -> tuple:
    """A parse spec as plain data: ("fixed", dtype, shape, default) or ("var", dtype)."""
    import tensorflow as tf

    if isinstance(spec, tf.io.VarLenFeature):
        return ("var", spec.dtype.name)
    default = spec.default_value
    if isinstance(default, bytes):
        default = default.decode()
    return ("fixed", spec.dtype.name, tuple(spec.shape), default)


class DecoderHost:
    """Decoders built once per (label-map text, mask type) and traced once as tf.functions."""

    def __init__(self):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        from object_detection.data_decoders import tf_example_decoder
        from object_detection.protos import input_reader_pb2

        install_tf2_shim()
        self.tf = tf
        self.module = tf_example_decoder
        self.mask_types = {"PNG_MASKS": input_reader_pb2.PNG_MASKS,
                           "NUMERICAL_MASKS": input_reader_pb2.NUMERICAL_MASKS}
        self.label_map_dir = tempfile.mkdtemp(prefix="odapi-label-maps-")
        self.decoders: dict = {}

    def decoder(self, label_map_text: str | None, mask_type: str | None, **switches):
        key = (label_map_text, mask_type, tuple(sorted(switches.items())))
        if key not in self.decoders:
            options = dict(switches)
            if label_map_text is not None:
                name = hashlib.sha256(label_map_text.encode()).hexdigest() + ".pbtxt"
                path = os.path.join(self.label_map_dir, name)
                with open(path, "w", encoding="utf-8") as fileobj:
                    fileobj.write(label_map_text)
                options["label_map_proto_file"] = path
            if mask_type is not None:
                options.update(load_instance_masks=True,
                               instance_mask_type=self.mask_types[mask_type])
            decoder = self.module.TfExampleDecoder(**options)
            decode = self.tf.function(decoder.decode, input_signature=[
                self.tf.TensorSpec([], self.tf.string)])
            self.decoders[key] = (decoder, decode)
        return self.decoders[key]

    def spec(self, request: dict) -> dict:
        decoder, _ = self.decoder(None, request.get("mask_type"), **request.get("switches", {}))
        return {key: describe_spec(spec) for key, spec in decoder.keys_to_features.items()}

    def decode(self, request: dict) -> list[dict]:
        tf = self.tf
        decoder, decode = self.decoder(request.get("label_map"), request.get("mask_type"))
        types = {"bytes": tf.string, "int": tf.int64, "float": tf.float32}
        spec = dict(decoder.keys_to_features)
        for key, kind in request.get("extra", {}).items():
            spec[key] = tf.io.VarLenFeature(types[kind])
        out = []
        for record in request["records"]:
            parsed = tf.io.parse_single_example(record, spec)
            features = {key: (tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor)
                              else value).numpy() for key, value in parsed.items()}
            decoded = {}
            if request.get("decode", True):
                decoded = {str(key): value.numpy() for key, value in decode(record).items()}
                decoded["image"] = decoded["image"].shape    # its shape is what tests check
            out.append({"features": features, "decoded": decoded})
        return out


def serve() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        host = DecoderHost()
        pickle.dump(("ready", None), answers)
    except Exception as error:  # noqa: BLE001 - reported to the test process, which fails
        pickle.dump(("unavailable", f"{type(error).__name__}: {error}"), answers)
        answers.flush()
        return
    answers.flush()
    requests = sys.stdin.buffer
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = ("ok", getattr(host, request["op"])(request))
        except Exception as error:  # noqa: BLE001 - a record the decoder rejects
            answer = ("error", f"{type(error).__name__}: {error}")
        pickle.dump(answer, answers)
        answers.flush()


if __name__ == "__main__":
    os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    serve()

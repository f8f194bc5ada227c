"""URLs through s3fs against an S3-compatible server (moto in server mode) that this module
starts on 127.0.0.1 only, with a bounded wait: the command line reads a dataset from s3:// and
writes records to s3://, the bytes a local run writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests import datasets

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

START_WAIT_S = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """(endpoint URL, environment for a child process, an s3fs filesystem) of a fresh server."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"moto's S3 server did not start within {START_WAIT_S} s")
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", FSSPEC_S3_ENDPOINT_URL=endpoint,
               AWS_ENDPOINT_URL=endpoint)
    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=endpoint,
                           client_kwargs={"region_name": "us-east-1"}, skip_instance_cache=True)
    import boto3  # moto's own dependency

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="bucket")
    yield endpoint, env, fs
    server.stop()


def test_the_command_line_reads_and_writes_s3(tmp_path, s3):
    _endpoint, env, fs = s3
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    datasets.convert(layout, options, tmp_path / "local", num_shards=2)
    fs.put(str(tmp_path / "data"), "bucket/data", recursive=True)
    url_options = {k: "s3://bucket/data" + v[len(str(tmp_path / "data")):]
                   if isinstance(v, str) and v.startswith(str(tmp_path / "data")) else v
                   for k, v in options.items()}
    args = datasets.command_line(layout, url_options, "s3://bucket/out", num_shards=2)
    args[args.index("--output") + 1] = "s3://bucket/out/data.record"
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "tfrconv", *args, "--workers", "2"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "s3://bucket/out/data.record" in done.stdout + done.stderr
    fs.invalidate_cache()
    for name in ("data.record-00000-of-00002", "data.record-00001-of-00002",
                 "data.label_map.pbtxt"):
        assert fs.cat_file(f"bucket/out/{name}") == (tmp_path / "local" / name).read_bytes()
    assert not [p for p in fs.find("bucket/out") if p.rsplit("/", 1)[1].startswith(".")]
    assert list(work.iterdir()) == []                 # nothing local, no ./s3:/

    inspected = subprocess.run([sys.executable, "-m", "tfrconv", "inspect",
                                "s3://bucket/out/data.record-*"], cwd=work, env=env,
                               capture_output=True, text=True, timeout=300)
    assert inspected.returncode == 0, inspected.stderr
    assert "data.record-00001-of-00002" in inspected.stdout

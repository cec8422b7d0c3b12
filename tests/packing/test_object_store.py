"""Packs on an object store, for real: a local S3-compatible server (moto)."""

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import yaml

from tests.data.packs import POOL_ARGS, make_manifest
from torchgeo_composition.cli import main
from torchgeo_composition.datamodules import StreamingStratifiedDataModule
from torchgeo_composition.packing import PARTIAL_NAME, StoreError, read_pack_summary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """An S3 server on the loopback interface, with bucket ``bucket``."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with mock.patch.dict(os.environ, env):
            boto3.client("s3").create_bucket(Bucket="bucket")
            yield env["AWS_ENDPOINT_URL"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_pack(s3: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("s3pack")
    _, manifest = make_manifest(root, {"asia": 1, "europe": 1}, 12)
    url = "s3://bucket/packs/set"
    args = ["pack", *POOL_ARGS, f"--pool.root={root / 'pool'}",
            f"--manifest_path={manifest}", f"--output_dir={url}",
            "--num_workers=2", "--chunk_bytes=16KB"]  # fmt: skip
    assert main(args) == 0
    return root, url


def test_pack_written_to_and_streamed_from_s3(
    s3_pack: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    root, url = s3_pack
    keys = {
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(Bucket="bucket")["Contents"]
    }
    assert {"packs/set/pack.json", "packs/set/asia/index.json"} <= keys
    assert "packs/set/" + PARTIAL_NAME not in keys
    assert read_pack_summary(url).counts == {"asia": 6, "europe": 6}
    dm = StreamingStratifiedDataModule(
        url, batch_size=4, cache_dir=str(tmp_path / "cache"), crop_size=None
    )
    dm.setup("fit")
    seen = [
        (float(lon), c)
        for batch in dm.train_dataloader()
        for lon, c in zip(batch["lon"], batch["continent"], strict=True)
    ]
    assert len(seen) == len(set(seen)) == 12
    args = ["pack", *POOL_ARGS, f"--pool.root={root / 'pool'}",
            f"--manifest_path={root / 'set.parquet'}", f"--output_dir={url}",
            "--chunk_bytes=16KB"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().out


def test_satmae_fits_from_s3_through_the_cli(
    s3_pack: tuple[Path, str], tmp_path: Path
) -> None:
    override = {
        "trainer": {"accelerator": "cpu", "devices": 1, "precision": "32-true",
                    "default_root_dir": str(tmp_path), "enable_progress_bar": False,
                    "enable_model_summary": False},
        "model": {"init_args": {
            "model": "satmae_vit_tiny_patch8_96", "img_size": 16, "embed_dim": 32,
            "depth": 1, "num_heads": 2, "channel_embed": 8, "decoder_embed_dim": 32,
            "decoder_depth": 1, "decoder_num_heads": 2, "decoder_channel_embed": 8}},
        "data": {"init_args": {"input_dir": s3_pack[1], "batch_size": 4,
                               "crop_size": 16, "num_workers": 0,
                               "cache_dir": str(tmp_path / "cache")}},
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(override))
    config = REPO / "configs" / "pretrain" / "global_streaming.yaml"
    args = ["fit", "--config", str(config), "--config", str(path)]
    assert main([*args, "--trainer.fast_dev_run=2"]) == 0


def test_unfinished_pack_on_s3_is_not_streamed(s3: str) -> None:
    import boto3

    client = boto3.client("s3")
    client.put_object(Bucket="bucket", Key=f"half/{PARTIAL_NAME}", Body=b"{}")
    with pytest.raises(FileNotFoundError, match="unfinished pack"):
        StreamingStratifiedDataModule("s3://bucket/half")


def test_missing_bucket_named(s3: str) -> None:
    with pytest.raises(StoreError, match=r"s3://nobucket/pack.*NoSuchBucket"):
        StreamingStratifiedDataModule("s3://nobucket/pack")


def test_unreachable_store_fails_with_the_url(s3: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with (
        mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": closed}),
        pytest.raises(
            StoreError, match=r"'s3://bucket/pack/pack.json'.*cannot reach the store"
        ),
    ):
        StreamingStratifiedDataModule("s3://bucket/pack")

"""docker-save archives built in memory: what a host lacks, and the archive holding only that."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.images.layers import (
    SavedImage,
    missing_layers,
    present_chains,
    read_saved_image,
    write_partial_archive,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _layer_tar(content: bytes) -> bytes:
    """A real (tiny) layer: one file whose bytes differ per layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        info = tarfile.TarInfo("data.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def build_archive(contents: list[bytes], tag: str = "demo:1", oci: bool = False):
    """(archive bytes, diff_ids, config digest) as `docker save` writes them."""
    layers = [_layer_tar(c) for c in contents]
    diff_ids = [f"sha256:{_sha(layer)}" for layer in layers]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux",
         "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()  # fmt: skip
    config_digest = _sha(config)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        if oci:  # docker >= 25: blobs, plus legacy-looking symlinks to them
            layer_paths = [f"blobs/sha256/{_sha(layer)}" for layer in layers]
            config_path = f"blobs/sha256/{config_digest}"
            _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add(tar, "index.json", b'{"schemaVersion": 2, "manifests": []}')
            for path, layer in zip(layer_paths, layers, strict=True):
                _add(tar, path, layer)
                _symlink(tar, f"{_sha(layer)}/layer.tar", f"../{path}")
            _add(tar, config_path, config)
        else:
            layer_paths = [f"{_sha(layer)}/layer.tar" for layer in layers]
            config_path = f"{config_digest}.json"
            for path, layer in zip(layer_paths, layers, strict=True):
                _add(tar, path.replace("layer.tar", "VERSION"), b"1.0")
                _add(tar, path, layer)
            _add(tar, config_path, config)
        manifest = [{"Config": config_path, "RepoTags": [tag], "Layers": layer_paths}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        _add(tar, "repositories", json.dumps({tag.split(":")[0]: {}}).encode())
    return buffer.getvalue(), tuple(diff_ids), config_digest, layers


@pytest.mark.parametrize("oci", [False, True])
def test_read_saved_image(oci):
    data, diff_ids, digest, layers = build_archive([b"base", b"app", b"config!"], oci=oci)
    image = read_saved_image(io.BytesIO(data))
    assert image.image_id == f"sha256:{digest}"
    assert image.tags == ("demo:1",)
    assert image.diff_ids == diff_ids
    assert len(image.layer_paths) == 3
    assert image.layer_sizes == tuple(len(layer) for layer in layers)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for path, layer in zip(image.layer_paths, layers, strict=True):
            assert tar.extractfile(path).read() == layer


def test_read_rejects_archives_with_several_images():
    data, *_ = build_archive([b"x"])
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as reader,
        tarfile.open(fileobj=out, mode="w:") as w,
    ):
        for member in reader:
            if member.name == "manifest.json":
                entry = json.load(reader.extractfile(member))[0]
                _add(w, "manifest.json", json.dumps([entry, entry]).encode())
            else:
                w.addfile(member, reader.extractfile(member) if member.isfile() else None)
    with pytest.raises(ValueError, match="one image"):
        read_saved_image(io.BytesIO(out.getvalue()))


def test_present_chains_are_every_prefix():
    assert present_chains([["a", "b", "c"], ["x"]]) == {("a",), ("a", "b"), ("a", "b", "c"), ("x",)}
    assert present_chains([]) == set()
    assert present_chains([[]]) == set()
    assert present_chains(iter([iter(["a", "b"])])) == {("a",), ("a", "b")}


def _image(diff_ids) -> SavedImage:
    n = len(diff_ids)
    return SavedImage("sha256:x", (), tuple(diff_ids), tuple(f"{i}/layer.tar" for i in range(n)),
                      (1,) * n)  # fmt: skip


@pytest.mark.parametrize(
    ("image", "host", "missing"),
    [
        (["a", "b"], [], (0, 1)),
        (["a", "b"], [["a"]], (1,)),
        (["a", "b"], [["a", "b"]], ()),
        (["a", "b"], [["a", "b", "c"]], ()),
        # "b" is on the host but on another base: to docker it is another layer.
        (["a", "b"], [["z", "b"]], (0, 1)),
        (["a", "b", "c"], [["b", "c"], ["a"]], (1, 2)),
        (["a", "b", "c"], [["x", "a", "b", "c"]], (0, 1, 2)),
    ],
)
def test_missing_layers(image, host, missing):
    assert missing_layers(_image(image).diff_ids, present_chains(host)) == missing


LAYER = st.sampled_from("abcde")


@given(
    image=st.lists(LAYER, min_size=1, max_size=6),
    host=st.lists(st.lists(LAYER, max_size=6), max_size=5),
)
def test_a_layer_is_present_only_with_its_whole_chain(image, host):
    missing = missing_layers(_image(image).diff_ids, present_chains(host))
    expected = tuple(
        index
        for index in range(len(image))
        if not any(list(h[: index + 1]) == image[: index + 1] for h in host)
    )
    assert missing == expected
    # Once a layer is missing, every layer above it is too.
    if missing:
        assert missing == tuple(range(missing[0], len(image)))


@given(image=st.lists(LAYER, min_size=1, max_size=6), cut=st.integers(0, 6))
def test_a_host_holding_a_prefix_of_the_image_lacks_exactly_the_rest(image, cut):
    cut = min(cut, len(image))
    chains = present_chains([image[:cut]])
    assert missing_layers(_image(image).diff_ids, chains) == tuple(range(cut, len(image)))


def _members(data: bytes) -> dict[str, tuple[bytes | None, str]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name: (tar.extractfile(m).read() if m.isfile() else None, m.linkname)
            for m in tar.getmembers()
        }


@pytest.mark.parametrize("oci", [False, True])
@given(send=st.sets(st.integers(0, 2)))
def test_partial_archive_keeps_everything_but_the_skipped_layer_files(oci, send):
    data, _, _, _ = build_archive([b"base", b"app", b"top"], oci=oci)
    image = read_saved_image(io.BytesIO(data))
    target = io.BytesIO()
    written = write_partial_archive(io.BytesIO(data), target, image, sorted(send))
    assert written == len(target.getvalue())
    original, partial = _members(data), _members(target.getvalue())
    skipped = {image.layer_paths[i] for i in range(3) if i not in send}
    dangling = {name for name, (_, link) in original.items() if link and
                any(link.endswith(path) for path in skipped)}  # fmt: skip
    assert set(partial) == set(original) - skipped - dangling
    for name, value in partial.items():
        assert value == original[name], name
    for index in send:
        assert image.layer_paths[index] in partial
    # The metadata docker load needs is always there, whatever is left out.
    assert "manifest.json" in partial
    assert any(name.endswith(image.image_id.removeprefix("sha256:")) or
               name.startswith(image.image_id.removeprefix("sha256:")) for name in partial)  # fmt: skip


def test_partial_archive_reads_from_the_start_of_a_consumed_source():
    data, *_ = build_archive([b"one", b"two"])
    source = io.BytesIO(data)
    image = read_saved_image(source)
    source.seek(0, io.SEEK_END)  # as after read_saved_image on a real file
    target = io.BytesIO()
    write_partial_archive(source, target, image, [1])
    partial = _members(target.getvalue())
    assert image.layer_paths[1] in partial
    assert image.layer_paths[0] not in partial

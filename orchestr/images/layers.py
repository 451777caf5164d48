"""Which layers of a `docker save` archive a host lacks, and the archive holding only those (pure).

docker load skips any layer whose chain (the layer and every layer below it) it already has,
without opening its file, so an archive can leave those files out: only what is missing travels.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class SavedImage:
    """What `docker save` wrote for one image."""

    image_id: str  # sha256:... of the config: identical wherever the image lands
    tags: tuple[str, ...]
    diff_ids: tuple[str, ...]  # layer digests, bottom first
    layer_paths: tuple[str, ...]  # archive member of each layer, same order
    layer_sizes: tuple[int, ...]


def read_saved_image(archive: BinaryIO) -> SavedImage:
    """Read manifest and config from a docker-save archive (legacy and OCI layouts alike)."""
    with tarfile.open(fileobj=archive, mode="r:") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        if len(manifest) != 1:
            raise ValueError(f"expected one image in the archive, found {len(manifest)}")
        entry = manifest[0]
        config_name = entry["Config"]
        config = json.load(tar.extractfile(config_name))
        sizes = tuple(tar.getmember(path).size for path in entry["Layers"])
    digest = config_name.rsplit("/", 1)[-1].removesuffix(".json")
    return SavedImage(
        image_id=f"sha256:{digest}",
        tags=tuple(entry.get("RepoTags") or ()),
        diff_ids=tuple(config["rootfs"]["diff_ids"]),
        layer_paths=tuple(entry["Layers"]),
        layer_sizes=sizes,
    )


def present_chains(host_images: Iterable[Iterable[str]]) -> set[tuple[str, ...]]:
    """Every layer chain a host has: each prefix of each of its images' diff_id lists."""
    chains: set[tuple[str, ...]] = set()
    for layers in host_images:
        layers = tuple(layers)
        for end in range(1, len(layers) + 1):
            chains.add(layers[:end])
    return chains


def missing_layers(diff_ids: Sequence[str], chains: Set[tuple[str, ...]]) -> tuple[int, ...]:
    """Indexes of the layers the host must receive. A layer is present only with its whole chain
    below it: the same bytes on top of another base are a different layer to docker."""
    layers = tuple(diff_ids)
    return tuple(index for index in range(len(layers)) if layers[: index + 1] not in chains)


def write_partial_archive(
    source: BinaryIO, target: BinaryIO, image: SavedImage, send: Iterable[int]
) -> int:
    """Copy the archive to target, leaving out the layer files the host has. Returns bytes."""
    keep_layers = {image.layer_paths[i] for i in send}
    skipped = set(image.layer_paths) - keep_layers
    source.seek(0)
    with (
        tarfile.open(fileobj=source, mode="r:") as reader,
        tarfile.open(fileobj=target, mode="w:", format=tarfile.PAX_FORMAT) as writer,
    ):
        for member in reader:
            if member.name in skipped:
                continue
            # A symlinked layer (OCI layout dedup) pointing at a skipped file would dangle.
            if member.issym() and _resolve(member) in skipped:
                continue
            writer.addfile(member, reader.extractfile(member) if member.isfile() else None)
    return target.tell()


def _resolve(member: tarfile.TarInfo) -> str:
    base = member.name.rsplit("/", 1)[0] if "/" in member.name else ""
    parts = [p for p in f"{base}/{member.linkname}".split("/") if p and p != "."]
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            if resolved:
                resolved.pop()
        else:
            resolved.append(part)
    return "/".join(resolved)

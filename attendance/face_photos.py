"""Folders of face photos for calibration and the benchmark: one sub-folder per person, each picture
analysed once by the engine (in this process). Pictures are read from disk and kept in memory only for
the call; nothing is written.

Layout (as `../shared/faces` and `../shared/faces-east-asian`): `DIR/<person>/*.jpg|png` holds one face
per picture; a folder named `groups` holds pictures of several people, unlabelled (used only as
strangers); `aliases` maps a folder to the person it shows (`partial` -> `obama` in the shared set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from attendance.face_calibration import Sample
from attendance.face_engine import EngineConfig, FoundFace, analyse_image, load_models

PICTURES = (".jpg", ".jpeg", ".png")
GROUPS = "groups"


@dataclass(frozen=True)
class Photo:
    path: Path
    person: str | None  # None: a group picture, nobody in particular
    faces: tuple[FoundFace, ...]  # largest first

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PICTURES)


def read_set(directory: Path, config: EngineConfig | None = None, aliases: Mapping[str, str] | None = None,
             groups: bool = True) -> list[Photo]:
    """Every picture of `directory`'s sub-folders, analysed (with embeddings), sorted by folder and name."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a folder of photos")
    load_models()
    config = config or EngineConfig(workers=0)
    aliases = aliases or {}
    out = []
    for folder in sorted(d for d in directory.iterdir() if d.is_dir()):
        if folder.name == GROUPS and not groups:
            continue
        person = None if folder.name == GROUPS else aliases.get(folder.name, folder.name)
        for path in pictures(folder):
            found = analyse_image(path.read_bytes(), config, encode=True)
            out.append(Photo(path, person, found.faces if found is not None else ()))
    return out


def samples(photos: Sequence[Photo], prefix: str = "") -> list[Sample]:
    """One sample per labelled single-face photo that has an embedding (group pictures are left out)."""
    out = []
    for photo in photos:
        if photo.person is None or len(photo.faces) != 1 or photo.faces[0].embedding is None:
            continue
        out.append(Sample(prefix + photo.person, photo.faces[0].embedding, photo.label))
    return out

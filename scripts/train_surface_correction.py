"""Train the default fit's surface correction (core.correction.depth) on random objects.

    python scripts/train_surface_correction.py --out w.npz    # the bundled weights, ~1.5 h
    cmp w.npz resources/surface_correction.npz                # identical, byte for byte
    python scripts/train_surface_correction.py --scenes 6 --epochs 2 --out /tmp/w.npz

Data: ``--scenes`` scenes (SCENES = 960); scene i is drawn from its own seed (``--seed``, i), so the
data do not depend on how many worker processes make them. A fraction ``--assemblies`` of the
scenes shows a random assembly of primitives (core.geometry.assemblies: boxes, thin slabs,
rods, tubes, ellipsoids, discs, cones, tori, capsules, blobs, open cups and boxes, brackets),
the rest one of the demo shapes (core.geometry.shapes.SHAPES); then a fraction ``--solids``
(SOLID_P = 0.1, drawn from the scene's own second generator, so the other scenes are what they
were) is replaced by a thick closed solid with large flat faces (drum, tapered drum, block,
prism, stepped drum: core.geometry.assemblies.random_solid), a fraction ``--attached``
of them with 1-3 thin parts fixed to it (handles, spouts, knobs, fins; ATTACHED_P = 0: tried,
not adopted). Never a held-out shape of the
accuracy benchmark (HELDOUT_SHAPES, NOVEL_SHAPES) nor of its development set (DEV_SHAPES):
``TRAINING_SOURCES`` names what training draws from, and both the script and
tests/core/test_training_data.py assert that no held-out name is among them. A quarter of
the objects are made scanner-like (finely triangulated, vertices jittered along their
normals by 0.002-0.006: ``ROUGH_P``, ``ROUGHNESS``). Each
object is randomly stretched (x0.6-1.6 per axis, 70% of scenes) and rotated, and seen by 4-40 cameras (log-uniform) laid out all around ('random', 55%;
'fibonacci' 15%) or only from the upper hemisphere ('upper', 30%), at 64-256 px (256 in 4%
of the scenes). Per scene, ``--per-scene`` samples of the hull's surface at level 0.5 px,
their features and depth targets (core.correction.depth).

Targets: the smallest inward depth within ``--target-tol`` (TARGET_TOL_PX = 0.15) px of the
line's closest approach to the true surface.

Model: ``--members`` (10) DepthModels, member k trained from seed ``--seed`` + k, each with two
outputs, the 0.5 and 0.25 quantiles of the target depth (pinball loss), AdamW + one-cycle
schedule; each stores the training features' range, outside which core.correction.depth
leaves a point on the hull. They are saved together as a DepthEnsemble whose depth is their
mean shrunk towards the hull where they disagree (``--shrink``, 2); ``--members 1`` writes a
plain DepthModel. A sixth of the scenes (drawn per member) is held back and the validation L1
of the median is printed next to a constant predictor's.

Reproducible bit for bit: scenes are seeded per scene and concatenated in scene order, and
each member is trained in one torch thread from its seed (initialisation, validation split,
batch order). The defaults write resources/surface_correction.npz exactly (docs/accuracy.md
says how it was checked); ``--out`` is required, so a run never overwrites the bundled file
by accident.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.correction.build import main  # noqa: E402
from core.correction.recipe import TRAINING_SOURCES  # noqa: E402
from core.evalsets import EVAL_NAMES  # noqa: E402

assert not set(TRAINING_SOURCES) & set(EVAL_NAMES), "an evaluation shape would enter training"

if __name__ == "__main__":
    raise SystemExit(main())

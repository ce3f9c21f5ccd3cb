"""SYNTHETIC k-mer data set in the real MUSET/kmtricks formats (no real samples in it).

`generate_kmer_dataset(out_dir)` writes:

- `unitigs.frac.mat`: MUSET layout, one row per unitig, `<unitig_id> <v_1> ... <v_N>`;
- `kmer_matrix/kmtricks.fof`: `<sample_id> : <read paths>`, the sample order of the columns;
- `metadata.tsv`: `Run_accession`, `project` (group column) and four correlated tasks
  (`sample_type` 2 classes, `community_type` 6, `sample_host` 12, `material` 14) with strong
  class imbalance and some blank labels, rows in another order than the fof;
- `README.md` saying that all of it is synthetic and how it was made.

How samples are drawn: a few latent community profiles (Dirichlet abundances over latent taxa)
with power-law weights; each project favours some profiles; a sample takes its project's tilt of
a profile, a sequencing depth (lower when ancient), host DNA of its host and, when ancient,
environmental contamination. A unitig's value is the fraction of its k-mers seen,
`1 - exp(-coverage)`, as MUSET reports. Labels follow the profile with some label noise, so the
tasks are correlated, learnable and not trivial.
"""

import json
from pathlib import Path

import numpy as np

SAMPLE_TYPES = ["ancient", "modern"]
COMMUNITIES = {
    "oral": ["dental calculus", "dental plaque", "saliva", "tooth"],
    "gut": ["stool", "coprolite", "palaeofaeces", "gut content"],
    "skeletal tissue": ["bone", "petrous bone", "tooth"],
    "environmental": ["sediment", "soil"],
    "skin": ["skin swab", "hair"],
    "soft tissue": ["gut content", "hair"],
}
ANCIENT_MATERIALS = {
    "dental calculus", "tooth", "coprolite", "palaeofaeces", "bone", "petrous bone", "sediment",
}  # fmt: skip
HOSTS = [
    "Homo sapiens", "Pan troglodytes", "Gorilla gorilla", "Ursus arctos", "Canis lupus",
    "Sus scrofa", "Bos taurus", "Equus caballus", "Papio anubis", "Rangifer tarandus",
    "Ovis aries", "Mammuthus primigenius",
]  # fmt: skip
MATERIALS = sorted({m for ms in COMMUNITIES.values() for m in ms})
TASKS = ("sample_type", "community_type", "sample_host", "material")
MISSING_RATES = {"sample_type": 0.01, "community_type": 0.03, "sample_host": 0.06, "material": 0.04}


def generate_kmer_dataset(
    out_dir: str | Path,
    n_samples: int = 600,
    n_unitigs: int = 2000,
    n_projects: int = 30,
    n_profiles: int = 20,
    n_taxa: int = 60,
    label_noise: float = 0.06,
    seed: int = 0,
) -> dict[str, Path]:
    """Write a synthetic data set and return the paths of `matrix`, `fof` and `metadata`."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    (out / "kmer_matrix").mkdir(parents=True, exist_ok=True)
    profiles = _profiles(rng, n_profiles, n_taxa)
    samples = _samples(rng, profiles, n_samples, n_projects, label_noise)
    values = _fractions(rng, profiles, samples, n_unitigs, n_taxa)
    ids = _accessions(rng, n_samples)

    paths = {
        "matrix": out / "unitigs.frac.mat",
        "fof": out / "kmer_matrix" / "kmtricks.fof",
        "metadata": out / "metadata.tsv",
    }
    rows = np.column_stack([np.arange(n_unitigs), values.T])
    np.savetxt(paths["matrix"], rows, fmt=["%d"] + ["%.4g"] * n_samples, delimiter=" ")
    paths["fof"].write_text(
        "".join(f"{s} : /data/reads/{s}_1.fastq.gz ; /data/reads/{s}_2.fastq.gz\n" for s in ids)
    )
    _write_metadata(rng, paths["metadata"], ids, samples)
    _write_readme(out, n_samples, n_unitigs, n_projects, n_profiles, seed)
    return paths


def _power_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def _profiles(rng: np.random.Generator, n_profiles: int, n_taxa: int) -> dict:
    """Latent communities: abundances over taxa and their typical labels."""
    # every material has at least one profile, so every class exists
    materials = list(MATERIALS) + list(rng.choice(MATERIALS, max(0, n_profiles - len(MATERIALS))))
    materials = materials[: max(n_profiles, len(MATERIALS))]
    community_of = {}
    for community, ms in COMMUNITIES.items():
        for m in ms:
            community_of.setdefault(m, []).append(community)
    host_weights = _power_weights(rng, len(HOSTS), 1.3)
    host_weights[HOSTS.index("Homo sapiens")] = host_weights.max() * 3
    host_weights /= host_weights.sum()
    labels = []
    for material in materials:
        community = str(rng.choice(community_of[material]))
        host = None
        if community != "environmental":
            # the first host-associated profiles cover every host once
            host = sum(lab["host"] is not None for lab in labels)
            if host >= len(HOSTS):
                host = int(rng.choice(len(HOSTS), p=host_weights))
        labels.append({"material": material, "community_type": community, "host": host})
    n = len(materials)
    weights = _power_weights(rng, n, 1.4) + 0.15 / n  # a floor keeps rare classes present
    return {
        "abundance": rng.dirichlet(np.full(n_taxa, 0.15), size=n),
        "weights": weights / weights.sum(),
        "labels": labels,
        "host_weights": host_weights,
    }


def _samples(
    rng: np.random.Generator, profiles: dict, n: int, n_projects: int, noise: float
) -> dict:
    """Project, profile, labels and depth per sample."""
    n_profiles = len(profiles["labels"])
    project_weights = _power_weights(rng, n_projects, 0.8)
    tilt = rng.gamma(0.4, size=(n_projects, n_profiles)) * profiles["weights"]
    tilt /= tilt.sum(axis=1, keepdims=True)
    project = rng.choice(n_projects, size=n, p=project_weights)
    profile = np.array([rng.choice(n_profiles, p=tilt[p]) for p in project])
    labels: dict[str, list] = {t: [] for t in TASKS}
    for k in profile:
        base = profiles["labels"][k]
        material = base["material"] if rng.random() > noise else str(rng.choice(MATERIALS))
        community = base["community_type"]
        if rng.random() < noise:
            community = str(rng.choice(list(COMMUNITIES)))
        host = base["host"]
        if host is not None and rng.random() < 2 * noise:
            host = int(rng.choice(len(HOSTS), p=profiles["host_weights"]))
        ancient = (material in ANCIENT_MATERIALS) != (rng.random() < noise)
        labels["sample_type"].append(SAMPLE_TYPES[0] if ancient else SAMPLE_TYPES[1])
        labels["community_type"].append(community)
        labels["sample_host"].append(host)
        labels["material"].append(material)
    ancient = np.array([t == "ancient" for t in labels["sample_type"]])
    depth = rng.lognormal(mean=np.where(ancient, 1.0, 2.0), sigma=0.6)
    return {"project": project, "profile": profile, "labels": labels, "depth": depth}


def _fractions(
    rng: np.random.Generator, profiles: dict, samples: dict, n_unitigs: int, n_taxa: int
) -> np.ndarray:
    """Samples x unitigs fractions of k-mers seen, in [0, 1]."""
    n = len(samples["profile"])
    n_host = max(len(HOSTS), n_unitigs // 10)
    n_env = max(1, n_unitigs // 20)
    n_taxon = n_unitigs - n_host - n_env
    taxon_of = rng.integers(0, n_taxa, size=n_taxon)
    efficiency = rng.lognormal(0.0, 0.7, size=n_unitigs)

    base = profiles["abundance"][samples["profile"]]
    project_effect = rng.lognormal(0.0, 0.8, size=(samples["project"].max() + 1, n_taxa))
    abundance = rng.dirichlet(np.full(n_taxa, 0.3), size=n) * 0.2 + base * 0.8
    abundance *= project_effect[samples["project"]]
    abundance /= abundance.sum(axis=1, keepdims=True)
    coverage = np.empty((n, n_unitigs))
    coverage[:, :n_taxon] = abundance[:, taxon_of] * samples["depth"][:, None] * 3

    host_of = np.arange(n_host) % len(HOSTS)
    host = np.array([-1 if h is None else h for h in samples["labels"]["sample_host"]])
    host_dna = rng.beta(2, 5, size=n) * samples["depth"]
    coverage[:, n_taxon : n_taxon + n_host] = (host[:, None] == host_of[None, :]) * host_dna[
        :, None
    ]
    ancient = np.array([t == "ancient" for t in samples["labels"]["sample_type"]])
    contamination = rng.gamma(2.0, 0.3, size=n) * np.where(ancient, 1.0, 0.15)
    coverage[:, n_taxon + n_host :] = contamination[:, None] * rng.random((1, n_env))

    values = 1.0 - np.exp(-coverage * efficiency[None, :])
    values += rng.normal(0.0, 0.02, size=values.shape)  # shared k-mers, sequencing errors
    values = np.clip(values, 0.0, 1.0)
    values[values < 0.02] = 0.0
    return values[:, rng.permutation(n_unitigs)].astype(np.float32)


def _accessions(rng: np.random.Generator, n: int) -> list[str]:
    numbers = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    prefixes = rng.choice(["ERR", "SRR"], size=n, p=[0.6, 0.4])
    return [f"{p}{num}" for p, num in zip(prefixes, numbers, strict=True)]


def _write_metadata(rng: np.random.Generator, path: Path, ids: list[str], samples: dict) -> None:
    columns = ["Run_accession", "sample_name", "project", *TASKS]
    lines = ["\t".join(columns)]
    labels = samples["labels"]
    for i in rng.permutation(len(ids)):
        row = {
            "sample_type": labels["sample_type"][i],
            "community_type": labels["community_type"][i],
            "sample_host": None
            if labels["sample_host"][i] is None
            else HOSTS[labels["sample_host"][i]],
            "material": labels["material"][i],
        }
        for task, rate in MISSING_RATES.items():
            if rng.random() < rate:
                row[task] = None
        cells = [ids[i], f"sample_{i:05d}", f"PRJ{samples['project'][i] + 1:03d}"]
        cells += ["" if row[t] is None else row[t] for t in TASKS]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n")


def _write_readme(
    out: Path, n_samples: int, n_unitigs: int, n_projects: int, n_profiles: int, seed: int
) -> None:
    settings = {"n_samples": n_samples, "n_unitigs": n_unitigs, "n_projects": n_projects,
                "n_profiles": n_profiles, "seed": seed}  # fmt: skip
    (out / "README.md").write_text(
        "# SYNTHETIC k-mer data set\n\n"
        "Every value and label here is synthetic, generated by `trainlab.data.kmer.synthetic`. "
        "No real sample, read or organism is behind it; do not draw biological conclusions.\n\n"
        "Files, in the formats of the real tools:\n\n"
        "- `unitigs.frac.mat`: MUSET unitig fraction matrix (one row per unitig, one column per "
        "sample, space-separated, no header)\n"
        "- `kmer_matrix/kmtricks.fof`: kmtricks file of files giving the column order\n"
        "- `metadata.tsv`: `Run_accession`, `project` (group column) and the tasks "
        f"{', '.join(TASKS)}; blank cells are missing labels\n\n"
        f"Settings: `{json.dumps(settings)}`\n"
    )

"""`trainlab cv` end to end on a small synthetic data set: full run, resume, prediction."""

import json
from pathlib import Path

import numpy as np
import pytest

import trainlab
from trainlab.cli.main import main
from trainlab.models.classification import MultiHeadClassifier
from trainlab.pipelines.kmer_cv.rules import CV_RULES

SMALL = [
    "experiment=kmer/diana",
    "data.synthetic={n_samples:120,n_unitigs:120,n_projects:8,seed:1}",
    "cv.n_folds=2",
    "cv.n_inner_splits=2",
    "cv.n_trials=2",
    "cv.max_epochs=3",
    "cv.patience=2",
    "cv.sampler.n_startup_trials=1",
    "final.max_epochs=3",
    "trainer.accelerator=cpu",
    "extras.print_config=false",
]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TRAINLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cv(*args: str) -> None:
    main(["cv", *SMALL, *args])


def test_full_run_then_predict(env: Path) -> None:
    cv("run_name=full", "mode=full")
    out = env / "logs" / "cv" / "runs" / "full"
    results = out / "cv_results"
    for k in range(2):
        record = json.loads(next((results / f"fold_{k}").glob("multitask_fold_*.json")).read_text())
        assert set(record) >= {
            "fold_id", "total_folds", "n_train", "n_test", "num_classes", "best_params",
            "test_metrics", "best_model_path", "timestamp",
        }  # fmt: skip
        assert record["fold_id"] == k and record["total_folds"] == 2
        assert record["n_train"] + record["n_test"] == 120
        best_path = Path(record["best_model_path"])
        assert best_path == results / f"fold_{k}" / "checkpoints" / "best.ckpt"
        assert (best_path.parent / "last.ckpt").is_file()
        assert 0.0 <= record["test_metrics"]["overall"]["f1_weighted"] <= 1.0
        assert record["search"]["n_complete"] + record["search"]["n_pruned"] == 2
    best = json.loads((results / "best_hyperparameters.json").read_text())
    assert isinstance(best["model.net.n_layers"], int)
    assert best["model.net.activation"] in ("relu", "gelu", "leaky_relu")
    aggregated = json.loads((results / "aggregated_results.json").read_text())
    assert len(aggregated["test_metrics"]["material"]["f1_weighted"]["values"]) == 2
    # every aggregated parameter: the folds' values, the rule by distribution, the result
    rules = aggregated["hyperparameters"]
    assert set(rules) == set(best)
    for key, entry in rules.items():
        # a width over the folds whose network had that layer (`folds` when not all)
        assert len(entry["values"]) == len(entry.get("folds", [0, 1])), key
        assert entry["result"] == best[key], key
    assert rules["data.batch_size"]["rule"].startswith("mode")
    assert best["data.batch_size"] in (32, 64, 128)
    assert rules["model.optimizer.lr"]["rule"] == "geometric mean"
    lrs = rules["model.optimizer.lr"]["values"]
    assert best["model.optimizer.lr"] == pytest.approx((lrs[0] * lrs[1]) ** 0.5)
    assert rules["model.net.hidden_dim_0"]["rule"] == "mean, snapped to step and bounds"
    assert best["model.net.hidden_dim_0"] % 64 == 0
    # one task weight per task of the data
    weights = sorted(k for k in best if k.startswith("model.task_weights."))
    assert weights == [f"model.task_weights.{t}" for t in sorted(encoders_tasks(results))]
    assert "| overall | f1_weighted |" in (results / "results_table.md").read_text()
    assert (results / "results.png").is_file()
    final = out / "final_model"
    for name in (
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "training_history.json",
        "label_encoders.json",
    ):
        assert (final / name).is_file(), name
    # Lightning's convention works on the final model without the Hydra tree
    model = MultiHeadClassifier.load_from_checkpoint(final / "checkpoints" / "best.ckpt")
    assert set(model.tasks) == set(encoders_tasks(results)) and not model.training
    config = json.loads((final / "final_training_config.json").read_text())
    assert config["n_train"] + config["n_validation"] == 120
    encoders = json.loads((final / "label_encoders.json").read_text())
    assert len(encoders["sample_type"]) == 2

    # prediction on new samples: a .npy matrix beside a kmtricks.fof
    new = env / "new"
    new.mkdir()
    x = np.random.default_rng(0).random((3, 120)).astype(np.float32)
    np.save(new / "samples.npy", x)
    (new / "kmtricks.fof").write_text("".join(f"NEW{i} : r{i}.fq\n" for i in range(3)))
    main(
        [
            "predict",
            f"ckpt_path={final / 'checkpoints' / 'best.ckpt'}",
            f"input={new / 'samples.npy'}",
            f"output_dir={env / 'pred'}",
            "trainer.accelerator=cpu",
            "extras.print_config=false",
        ]
    )
    files = sorted((env / "pred").glob("*_predictions.json"))
    assert [f.name for f in files] == [f"NEW{i}_predictions.json" for i in range(3)]
    pred = json.loads(files[0].read_text())["predictions"]
    assert set(pred) == set(encoders)
    for task, entry in pred.items():
        assert entry["predicted_class"] == list(encoders[task])[entry["class_index"]]
        assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert entry["confidence"] == max(entry["probabilities"].values())


def test_resume_keeps_finished_folds_and_trials(env: Path, capsys) -> None:
    cv("run_name=resume", "mode=optimize")
    out = env / "logs" / "cv" / "runs" / "resume" / "cv_results"
    fold0 = next((out / "fold_0").glob("multitask_fold_*.json"))
    kept = fold0.read_bytes()
    # simulate an interruption inside fold 1: its results vanish, its finished trials stay
    for path in (out / "fold_1").glob("multitask_fold_*.json"):
        path.unlink()
    journal = (out / "fold_1" / "optuna.journal").read_bytes()
    cv("run_name=resume", "mode=optimize")
    assert next((out / "fold_0").glob("multitask_fold_*.json")).read_bytes() == kept
    record = json.loads(next((out / "fold_1").glob("multitask_fold_*.json")).read_text())
    assert record["search"]["n_complete"] + record["search"]["n_pruned"] == 2
    assert (out / "fold_1" / "optuna.journal").read_bytes().startswith(journal)
    # a larger cv.n_trials extends EVERY fold's search, the finished ones too: fold 0 used to
    # be kept with 2 trials while the table claimed the search cv.n_trials=3 asked for
    journals = [(out / f"fold_{k}" / "optuna.journal").read_bytes() for k in range(2)]
    models = []
    for k in range(2):
        earlier = json.loads(next((out / f"fold_{k}").glob("multitask_fold_*.json")).read_text())
        models.append(Path(earlier["best_model_path"]).read_bytes())
    names = [next((out / f"fold_{k}").glob("multitask_fold_*.json")).name for k in range(2)]
    log_file = out.parent / "cv.log"
    logged = len(log_file.read_text().splitlines())
    cv("run_name=resume", "mode=full", "cv.n_trials=3")
    for name in names:
        # one line per set-aside, saying why and where (before: 'is set aside' twice, once
        # from the run's plan and once from the fold, then a third line saying where)
        lines = [line for line in log_file.read_text().splitlines()[logged:] if name in line]
        assert len(lines) == 1, lines
        assert "ran fewer trials than cv.n_trials=3" in lines[0] and "set_aside" in lines[0]
    for k in range(2):
        (newest,) = (out / f"fold_{k}").glob("multitask_fold_*.json")
        search = json.loads(newest.read_text())["search"]
        # 2 trials from before + 1 new one; the journal grew rather than restarted
        assert search["n_complete"] + search["n_pruned"] == 3 and search["n_trials"] == 3, k
        assert (out / f"fold_{k}" / "optuna.journal").read_bytes().startswith(journals[k])
        # the earlier result and its model are kept, not overwritten by the retrain
        (aside,) = (out / f"fold_{k}" / "set_aside").glob("*/multitask_fold_*.json")
        earlier = json.loads(aside.read_text())
        assert earlier["search"]["n_trials"] == 2
        assert Path(earlier["best_model_path"]).read_bytes() == models[k]
    # aggregating with more trials than the folds ran is refused, not done on the old ones
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cv("run_name=resume", "mode=aggregate", "cv.n_trials=4")
    # the value to aggregate with is named (before: "... aggregate with the cv.n_trials they ran")
    assert "(fold 0: 3, fold 1: 3). To aggregate what they ran, pass cv.n_trials=3" in (
        capsys.readouterr().err.replace("\n", " ")
    )
    cv("run_name=resume", "mode=aggregate", "cv.n_trials=3")
    # given hyperparams on the searched folder: every fold runs with them (before, nothing
    # ran and the search's scores stood for the given parameters)
    given = env / "given.json"
    given.write_text(json.dumps({"model.optimizer.lr": 0.001}))
    cv("run_name=resume", "mode=optimize", "cv.n_trials=3", f"hyperparams={given}")
    for k in range(2):
        (newest,) = (out / f"fold_{k}").glob("multitask_fold_*.json")
        record = json.loads(newest.read_text())
        assert record["search"]["skipped"] and record["best_params"] == {
            "model.optimizer.lr": 0.001
        }
        assert len(list((out / f"fold_{k}" / "set_aside").glob("*/checkpoints/best.ckpt"))) == 2
    # other folds from the same folder are refused
    with pytest.raises(SystemExit):
        cv("run_name=resume", "mode=optimize", "cv.seed=7")


def test_results_of_other_rules_are_refused_or_redone(env: Path, capsys) -> None:
    cv("run_name=rules", "mode=full")
    run = env / "logs" / "cv" / "runs" / "rules"
    out = run / "cv_results"
    settings = json.loads((out / "cv_settings.json").read_text())
    assert (settings["rules_version"], settings["trainlab_version"]) == (
        CV_RULES,
        trainlab.__version__,
    )
    # a folder written before the rules were recorded (or under other rules): the versions
    # are gone from its records, as in folders of earlier trainlab versions
    for path in [*out.glob("fold_*/multitask_fold_*.json"), out / "cv_settings.json",
                 run / "final_model" / "final_training_config.json"]:  # fmt: skip
        record = json.loads(path.read_text())
        assert record.pop("rules_version") == CV_RULES, path
        del record["trainlab_version"]
        path.write_text(json.dumps(record))
    journal = (out / "fold_1" / "optuna.journal").read_bytes()
    capsys.readouterr()
    # before: the folder resumed without a word (`outer folds to run: []`), its results
    # counted as this trainlab's
    for mode in ("full", "aggregate", "train"):
        with pytest.raises(SystemExit):
            cv("run_name=rules", f"mode={mode}")
        err = capsys.readouterr().err.replace("\n", " ")
        assert f"{run} holds results computed under other k-mer CV rules than this" in err
        assert f"trainlab {trainlab.__version__} applies (rules {CV_RULES}" in err, mode
        if mode != "train":
            assert "fold 1: no rules version (written before trainlab recorded one)" in err
        assert "Fix: use a new run folder (run_name=...), or redo them" in err
        assert "cv.redo_other_rules=true" in err
    cv("run_name=rules", "mode=full", "cv.redo_other_rules=true")
    for k in range(2):
        (newest,) = (out / f"fold_{k}").glob("multitask_fold_*.json")
        assert json.loads(newest.read_text())["rules_version"] == CV_RULES
        # the earlier result, model and search are kept, and the search ran again
        (aside,) = (out / f"fold_{k}" / "set_aside").glob("*/multitask_fold_*.json")
        assert (aside.parent / "checkpoints" / "best.ckpt").is_file()
        assert (aside.parent / "optuna.journal").is_file()
    assert next((out / "fold_1" / "set_aside").glob("*/optuna.journal")).read_bytes() == journal
    assert len(list((run / "final_model_set_aside").glob("*/checkpoints/best.ckpt"))) == 1
    final = json.loads((run / "final_model" / "final_training_config.json").read_text())
    assert final["rules_version"] == CV_RULES
    settings = json.loads((out / "cv_settings.json").read_text())
    assert settings["rules_version"] == CV_RULES
    assert settings["changes"][-1]["by"] == "cv.redo_other_rules=true"
    assert len(settings["changes"][-1]["redone"]) == 3  # two folds and the final model


def encoders_tasks(results: Path) -> list[str]:
    record = json.loads(next((results / "fold_0").glob("multitask_fold_*.json")).read_text())
    return list(record["num_classes"])


def fold_outcomes(run: Path) -> list[tuple]:
    records = [json.loads(p.read_text()) for p in sorted(run.glob("cv_results/fold_*/*.json"))]
    return [(r["best_params"], r["test_metrics"], r["search"]["best_inner_score"]) for r in records]


def test_hyperparams_skip_the_search(env: Path) -> None:
    params = env / "params.json"
    chosen = {"model.optimizer.lr": 0.003, "model.net.n_layers": 1, "model.net.hidden_dim_0": 32}
    params.write_text(json.dumps(chosen))
    cv("run_name=fixed", "mode=train", f"hyperparams={params}")
    final = env / "logs" / "cv" / "runs" / "fixed" / "final_model"
    config = json.loads((final / "final_training_config.json").read_text())
    assert config["hyperparameters"]["model.net.hidden_dim_0"] == 32
    assert config["config"]["model"]["net"]["n_layers"] == 1
    assert not (final.parent / "cv_results").exists()
    # other parameters for the same folder: refused (the old final model was returned as if
    # it had been trained with them)
    params.write_text(json.dumps({**chosen, "model.net.hidden_dim_0": 64}))
    with pytest.raises(SystemExit):
        cv("run_name=fixed", "mode=train", f"hyperparams={params}")
    assert json.loads((final / "final_training_config.json").read_text()) == config
    params.write_text(json.dumps(chosen))
    cv("run_name=fixed", "mode=train", f"hyperparams={params}")  # the same ones: kept


@pytest.mark.slurm
def test_slurm_fold_array(slurm_cluster, env: Path) -> None:
    cv(
        "run_name=slurm",
        "mode=optimize",
        "cv.launcher=slurm",
        "cv.slurm.timeout_min=10",
        "cv.slurm.cpus_per_task=1",
        "cv.slurm.mem_gb=2",
    )
    out = env / "logs" / "cv" / "runs" / "slurm" / "cv_results"
    assert len(list(out.glob("fold_*/multitask_fold_*.json"))) == 2
    assert list((out.parent / "jobs").iterdir())


@pytest.mark.slow
def test_local_parallel_fold_processes(env: Path) -> None:
    cv("run_name=local", "mode=optimize", "cv.launcher=local", "cv.local.n_parallel=2")
    out = env / "logs" / "cv" / "runs" / "local"
    assert len(list(out.glob("cv_results/fold_*/multitask_fold_*.json"))) == 2
    assert len([p for p in (out / "jobs").iterdir() if p.name.isdigit()]) == 2  # one per fold
    # the same folds as in this process, one after the other
    cv("run_name=sequential", "mode=optimize")
    assert fold_outcomes(out) == fold_outcomes(out.parent / "sequential")


def test_single_training_run_of_the_experiment(env: Path) -> None:
    main(
        [
            "train",
            "experiment=kmer/diana",
            "data.synthetic={n_samples:120,n_unitigs:120,n_projects:8,seed:1}",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "run_name=single",
            "logger=[csv]",
            "~callbacks.progress_bar",
            "extras.print_config=false",
        ]
    )
    run = env / "logs" / "train" / "runs" / "single"
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test/material/f1_weighted"] <= 1.0
    assert (run / "reports" / "test_material_classification_report.txt").is_file()


def test_eval_refuses_test_samples_the_single_run_trained_on(env: Path, run_cli, capsys) -> None:
    """Another `data.split_seed` (1, not 42) at eval draws a test set of half training
    samples; eval scored them as unseen before the k-mer DataModule named its rows."""
    args = [
        "experiment=kmer/diana",
        "data.synthetic={n_samples:120,n_unitigs:120,n_projects:8,seed:1}",
        "trainer.accelerator=cpu",
        "extras.print_config=false",
    ]
    assert run_cli("train", *args, "trainer.max_epochs=1", "run_name=seen", "logger=[csv]") == 0
    ckpt = env / "logs" / "train" / "runs" / "seen" / "checkpoints" / "best.ckpt"
    evaluate = ["eval", f"ckpt_path={ckpt}", "extras.print_config=false"]
    assert run_cli(*evaluate, "+data.split_seed=1") == 2
    assert f"test rows were training rows of {ckpt}" in capsys.readouterr().err
    assert run_cli(*evaluate) == 0  # the split it was trained with still evaluates

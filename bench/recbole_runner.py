"""One RecBole training run, executed by ``bench/recbole_compare.py`` inside RecBole's own venv.

    .bench/recbole-venv/bin/python bench/recbole_runner.py job.json

It does not import Tailor (RecBole's venv pins numpy < 2 and pandas < 3). The job file names the model,
the atomic-file dataset the comparison wrote, RecBole's config and a seed; the result file gets RecBole's
own test metrics, the wall and CPU seconds of every training epoch, and the raw predictions, so that the
comparison scores RecBole and Tailor with one piece of code:

- ``sequential``: each test user's top ``k`` items from ``full_sort_predict``, once as RecBole ranks them
  (seen items included, its sequential convention) and once with the user's history removed (Tailor's
  and the runtime's convention);
- ``ctr``: the predicted click probability of every test row.

RecBole 1.2.1 on torch >= 2.6 needs ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` to reload its best checkpoint,
and importing its model package turns on autograd anomaly detection for every model (a module-level call
in ``sine.py``) which roughly doubles training time; it is switched off again after the import
(``../shared/RECBOLE.md``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def _sequential_predictions(
    model: Any, dataset: Any, test_data: Any, histories: dict[str, list[str]], k: int
) -> dict[str, dict[str, list[str]]]:
    import torch

    users = dataset.field2id_token[dataset.uid_field]
    items = dataset.field2id_token[dataset.iid_field]
    item_index = {token: i for i, token in enumerate(items)}
    out: dict[str, dict[str, list[str]]] = {}
    model.eval()
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0].to(model.device)
            scores = model.full_sort_predict(interaction).view(-1, dataset.item_num).clone()
            scores[:, 0] = -torch.inf  # RecBole's padding item
            plain = torch.topk(scores, k, dim=1).indices.tolist()
            for row, user in enumerate(interaction[dataset.uid_field].tolist()):
                raw = str(users[user])
                seen = [item_index[item] for item in histories[raw] if item in item_index]
                scores[row, seen] = -torch.inf
                unseen = torch.topk(scores[row], k).indices.tolist()
                out[raw] = {
                    "plain": [str(items[i]) for i in plain[row]],
                    "unseen": [str(items[i]) for i in unseen],
                }
    return out


def _ctr_predictions(model: Any, dataset: Any, test_data: Any) -> list[tuple[str, str, float]]:
    import torch

    users = dataset.field2id_token[dataset.uid_field]
    items = dataset.field2id_token[dataset.iid_field]
    rows: list[tuple[str, str, float]] = []
    model.eval()
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0].to(model.device)
            probability = model.predict(interaction).tolist()
            for user, item, p in zip(
                interaction[dataset.uid_field].tolist(),
                interaction[dataset.iid_field].tolist(),
                probability,
                strict=True,
            ):
                rows.append((str(users[user]), str(items[item]), float(p)))
    return rows


def main(job_path: str) -> None:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    torch.set_num_threads(int(job["threads"]))
    config = Config(
        model=job["model"],
        dataset=job["dataset"],
        config_dict={
            **job["config"],
            "data_path": job["data_path"],
            "checkpoint_dir": job["checkpoint_dir"],
            "seed": int(job["seed"]),
            "use_gpu": False,
            "show_progress": False,
            "state": "WARNING",
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model_class = get_model(config["model"])
    torch.autograd.set_detect_anomaly(False)  # after the import of recbole.model, which turned it on
    init_seed(config["seed"], config["reproducibility"])
    model = model_class(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    epoch_seconds: list[float] = []
    epoch_cpu_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_epoch(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        result = train_epoch(*args, **kwargs)
        epoch_seconds.append(time.perf_counter() - start)
        epoch_cpu_seconds.append(time.process_time() - cpu)
        return result

    trainer._train_epoch = timed_epoch
    started = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    fit_seconds = time.perf_counter() - started
    test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    result: dict[str, Any] = {
        "model": job["model"],
        "seed": job["seed"],
        "recbole_test": {key: float(value) for key, value in dict(test_result).items()},
        "epoch_seconds": epoch_seconds,
        "epoch_cpu_seconds": epoch_cpu_seconds,
        "fit_seconds": fit_seconds,
        # cur_step counts the epochs since the best validation score (the checkpoint evaluated).
        "best_epoch": len(epoch_seconds) - int(trainer.cur_step),
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
    }
    if job["task"] == "sequential":
        histories = json.loads(Path(job["histories"]).read_text(encoding="utf-8"))
        result["top"] = _sequential_predictions(model, dataset, test_data, histories, int(job["k"]))
    else:
        result["predictions"] = _ctr_predictions(model, dataset, test_data)
    Path(job["out"]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])

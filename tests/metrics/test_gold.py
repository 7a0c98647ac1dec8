from pathlib import Path

from routesql.metrics.gold import check_gold_queries

# The 3 gold queries that fail on their own database in Spider itself (annotation errors).
KNOWN_SPIDER_TRAIN_FAULTS = {
    (3153, "assets_maintenance", "no such table: Ref_Company_Types"),
    (4513, "document_management", "ORDER BY clause should come after INTERSECT not before"),
    (4514, "document_management", "ORDER BY clause should come after INTERSECT not before"),
}


def test_every_spider_train_gold_query_executes_but_the_known_faults(spider_dir: Path) -> None:
    report = check_gold_queries(spider_dir, "train", workers=2, progress=False)
    assert report["n_examples"] == 7000
    assert report["missing_databases"] == ["baseball_1", "soccer_1"]
    assert report["n_missing_database"] == 96
    assert {(f["index"], f["db_id"], f["error"]) for f in report["failures"]} == KNOWN_SPIDER_TRAIN_FAULTS
    assert report["n_executed"] == 7000 - 96 - 3

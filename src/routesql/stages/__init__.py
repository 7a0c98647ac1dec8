"""The pipeline's stages, one module each, named as the stage: DVC stage S runs `routesql S`, which
calls `routesql.stages.S.run`. A stage module checks the stage's inputs and outputs before any
work (one clear line when they are wrong) and calls the library code that does the work; the CLI
only parses options and prints. `tools/stage_deps.py` derives each stage's dvc.yaml deps from what
its module imports.
"""

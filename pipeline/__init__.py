"""Build-time SageMaker pipeline code (never shipped to Lambda); see docs/PIPELINE.md."""

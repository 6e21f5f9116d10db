"""Scripts that run inside SageMaker jobs (standard library only; the Spark one adds pyspark)."""

"""The pipeline's Google Cloud resources, declared with CDK for Terraform (cdktn).

`PipelineStack` composes one construct per concern (APIs, warehouse, storage, identity,
serving, ML platform, CI access) for one environment of `ml.environments`.
"""

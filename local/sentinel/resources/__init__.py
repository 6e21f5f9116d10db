"""Emulator creators for resource types beyond the foundation's, one module per area.

Each module registers its creators with ``@sentinel.emulator.creates("AWS::...")``;
``LocalStack.deploy()`` imports every module here before creating resources.
"""

"""A LocalStack Lambda runtime executor that runs each execution environment as a host process."""

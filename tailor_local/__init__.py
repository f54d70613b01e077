"""The embedded local service behind ``tailor serve``: the whole deployment in one process, on one port.

- ``gateway``: a threaded werkzeug server. Requests signed for ``personalize`` (and unsigned requests
  to the Personalize routes) become API Gateway REST proxy events for the handlers of
  ``functions.wiring``; everything else goes to moto's server-mode WSGI app, in-process.
- ``poller``: the Kinesis event-source mapping of ``wiring.EVENTS_CONSUMER`` (batching window,
  partial batch responses, bisection, retries, on-failure queue).
- ``jobs``: workflows as subprocesses of ``functions.workflows.run``, two at a time.
- ``resources``: the tables, buckets, streams and queues of the wiring, created in moto.
- ``server.LocalService`` ties them together; ``cli`` is the ``tailor`` command.

moto keeps its state in process memory, so each ``tailor serve`` starts empty; trained models and job
logs live in the state directory. One service per process: it sets the process environment
(``AWS_ENDPOINT_URL`` and friends) and registers the process-wide workflow starter.
"""

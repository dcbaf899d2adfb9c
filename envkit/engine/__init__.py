"""Engine adapters, behind narrow protocols::

base.py        observed values; ContainerRuntime, ImageStore, Inventory (Engine: all three)
endpoint.py    where an engine is: DOCKER_HOST/DOCKER_CONTEXT/TLS -> identity, connect host
factory.py     engine_from_env(): the one place an engine is made
occupied.py    observed_state(): what observe reports, shared by every engine
docker.py      DockerEngine, the only module that imports the docker SDK
               (docker_json: its JSON parsing; docker_images: pull, build, save, load;
               docker_connect: the SDK client per endpoint, TLS/ssh failures translated)
fake.py        FakeEngine, in memory (fake_state: its store), held to Docker's behaviour
               by tests/engine/test_engine_contract.py
"""

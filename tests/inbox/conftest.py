from tests.crisis.conftest import phone_of, rotation

__all__ = ["phone_of", "rotation"]

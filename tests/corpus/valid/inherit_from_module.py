from lib_base_steps import Base


class InheritFromModuleFlow(Base):
    """Every step comes from the base class in lib_base_steps.py."""

    def describe(self):
        return "inherits start, process and end"


if __name__ == "__main__":
    InheritFromModuleFlow()

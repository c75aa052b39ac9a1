"""DSPy modules: the guide, the core and the guide–core policy."""

from gcop.modules.core import Core
from gcop.modules.guide import Guide, guide_messages
from gcop.modules.policy import GuideCorePolicy

__all__ = ["Core", "Guide", "GuideCorePolicy", "guide_messages"]

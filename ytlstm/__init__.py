"""ytlstm: forecasting next-day views of trending YouTube videos with LSTM models.

Importing the package is cheap: TensorFlow is imported only when a neural network is built,
trained or loaded (``models``, the training workers of ``training``, ``importance``, ``saved``).
"""

from ytlstm.config import StudyConfig
from ytlstm.errors import DataError

__version__ = "0.1.0"
__all__ = ["StudyConfig", "DataError", "__version__"]

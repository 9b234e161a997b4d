"""ytlstm: forecasting next-day views of trending YouTube videos with LSTM models.

Importing the package is cheap: TensorFlow is imported only by the modules that train
or load neural networks (``models``, ``transfer``, ``clusters`` when training).
"""

from ytlstm.config import StudyConfig
from ytlstm.errors import DataError

__version__ = "0.1.0"
__all__ = ["StudyConfig", "DataError", "__version__"]

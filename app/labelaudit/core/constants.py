"""Constants of the algorithms, each with its reason.

A deployer has no reason to change these (limits and resources a deployer may
want to change are :class:`~labelaudit.config.Settings`). Modules import them from
here by name; tests that need another value patch the importing module's name.
"""

from __future__ import annotations

from labelaudit.vocab import BackboneName, Device, FilterBy, RankMethod, WeightsMode

# -- an audit's defaults (AuditOptions, the CLI and the API take them from here) ----------------------

DEFAULT_LABEL_COLUMN = "label"
DEFAULT_BACKBONE: str = BackboneName.AUTO.value
DEFAULT_FOLDS = 5
DEFAULT_SEED = 0
DEFAULT_DEVICE: str = Device.AUTO.value
#: Measured choice: on published pred_probs with human-verified errors (MNIST,
#: CIFAR-10, IMDB, 20news), normalized_margin ranked them best or tied on every set; on our own MNIST models
#: it ranks the 15 verified MNIST errors better than self_confidence (AP 0.163 / 0.205 against 0.144 / 0.160 at
#: 8 / 10 epochs), though self_confidence ranks injected instance noise better (docs/benchmarks/real_errors.md).
DEFAULT_RANK_METHOD: str = RankMethod.NORMALIZED_MARGIN.value
#: Rows whose given label the temperature-calibrated probabilities give at most POSTERIOR_ISSUE_LEVEL: confident
#: learning's ``prune_by_noise_rate`` (cleanlab's default, this one's before 2026-12-07) flagged 0-3 of the MNIST test
#: set's real errors; see docs/benchmarks/real_errors.md#the-issue-set.
DEFAULT_FILTER_BY: str = FilterBy.CALIBRATED_POSTERIOR.value
DEFAULT_WEIGHTS_MODE: str = WeightsMode.FINETUNE.value
#: Share of each class's labels a noise injection flips unless told otherwise.
DEFAULT_NOISE_RATE = 0.2

# -- an audit's ranges (the CLI and the API accept the same) -----------------------------------------

MAX_FOLDS = 50
MAX_EPOCHS = 1000
#: models per fold of an ensemble (training seeds stay distinct: :func:`labelaudit.core.crossval.ensemble_seed`)
MAX_ENSEMBLE = 9
#: most nearest neighbours an audit's neighbourhood score (``neighbours``) counts
MAX_NEIGHBOURS = 100
#: seeds feed numpy and scikit-learn generators, which take 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1

# -- ranking ----------------------------------------------------------------------------------------

#: From this many pred_probs values (n x k) on, ranking runs in chunks (:mod:`labelaudit.core.ranking.chunked`):
#: the same results as cleanlab's whole-array calls, without their copies of pred_probs.
CHUNKED_RANKING_CELLS = 10_000_000
#: Values of ``pred_probs`` read per chunk (rows = CHUNK_CELLS // k): 4 MB of float32, few enough chunks that
#: numpy's per-call overhead stays small (measured with bench/scale.py: 1 << 18 was 10-20% slower).
CHUNK_CELLS = 1 << 20
#: Most threads the passes over the chunks use (more bring nothing: the passes are memory-bound).
MAX_THREADS = 8
#: Above this share of a class's rows as candidates, all of the class's margins are computed instead.
CANDIDATE_SHARE = 0.5
#: Rows with the largest gaps whose margins are computed exactly, per row to prune (plus 64); 0: none.
SAMPLE_PER_PRUNED = 4
#: ``filter_by="calibrated_posterior"``: a row is an issue when the temperature-calibrated probabilities give its
#: given label at most this chance (a flagged label is wrong with probability >= 0.9 if the calibration holds;
#: 0.2 measured precision 0.67 on MNIST-10k instance noise, see docs/benchmarks/real_errors.md).
POSTERIOR_ISSUE_LEVEL = 0.1
#: Most rows the calibration temperature is fitted on (chosen by a hash of each row, whatever the rows' order;
#: the fit is one parameter).
TEMPERATURE_ROWS = 200_000

# -- ingest -----------------------------------------------------------------------------------------

#: Most pixels one archived image may decode to before it is resized to the dataset's common size (images are
#: decoded one at a time): above any camera's photo (64 MP), below a decompression bomb's 10000 x 10000.
MAX_IMAGE_DECODE_PIXELS = 64 * 1024 * 1024

# -- training ---------------------------------------------------------------------------------------

#: How often (seconds) a CPU fold re-reads its job's share of the CPU budget between optimiser steps (a few
#: file reads: ~0.2 ms), so a fold that started alone gives threads back when another job starts.
RETUNE_SECONDS = 0.5

#: ``auto`` trains the small CNN on images up to this side; larger images get the residual net
#: (measured best for time and AP on MNIST and digits on CPU).
AUTO_CNN_MAX_SIDE = 32
#: Fewer optimiser steps than this train at a constant learning rate instead of one-cycle.
MIN_ONE_CYCLE_STEPS = 8
#: Share of free GPU memory the training data may take; above it, batches stream from host memory.
GPU_RESIDENT_SHARE = 0.5
#: Share of an audit's progress bar given to training when a model is trained (ranking takes the rest).
TRAIN_PROGRESS_SHARE = 0.95

#: Tables of fewer training rows than this fit scikit-learn models (trees, logistic regression, TF-IDF) on
#: one thread: OpenMP's and BLAS's threads cost more than they bring there, and many times more on a busy
#: machine (measured: 300 rows, 200 trees, 0.3 s on one thread, 9 s on two busy cores).
SINGLE_THREAD_ROWS = 50_000
#: Share of the ``gbt`` backbone's probabilities that come from a logistic regression on the encoded columns
#: (the rest from the trees). Measured (bench/tables.py, pairwise noise 0.2, 2 seeds): AP of the trees alone /
#: blended: titanic 0.571 / 0.608, credit 0.656 / 0.693, penguins 0.890 / 0.968.
GBT_LINEAR_BLEND = 0.5
#: Columns each text column's word n-grams, and its character n-grams, are hashed into (2**20: few
#: collisions for any corpus an audit sees; only the columns seen in two training texts are kept per fold).
TEXT_HASH_FEATURES = 1 << 20
#: Character n-gram lengths of text features (within words), with the backbone option ``char_ngrams``. Off by
#: default: on fine-food reviews (bench/text.py, 3 seeds) words alone ranked errors better (AP 0.466 against
#: 0.458 with 3-5 character grams) in half the time.
TEXT_CHAR_NGRAMS = (3, 5)
#: A text term is a model column when at least this many of a fold's training texts hold it.
TEXT_MIN_DF = 2

# -- inputs -----------------------------------------------------------------------------------------

#: Largest gap between a pred_probs row sum (or value) and its valid range that is
#: repaired by clipping and renormalising; published files carry float noise this size.
PRED_PROBS_TOLERANCE = 1e-4
#: Bytes of pred_probs (in their working dtype) checked, converted or repaired at a time: temporaries
#: are this size, never n x k.
PRED_PROBS_CHUNK_BYTES = 4 * 1024 * 1024

#: A text column is free text (a ``text`` feature) when its values are varied (at least this many distinct, or
#: distinct in most rows) and long: a median of this many words, or this many characters on average. Shorter
#: or fewer values are categories ("New York", "Some college").
TEXT_MIN_DISTINCT = 50
TEXT_MIN_MEDIAN_WORDS = 3
TEXT_MIN_MEAN_CHARS = 30
#: Fewer rows than this are too few to call a column an identifier by its values alone (an integer
#: sequence, single-word codes); its name still can (``id``, ``rownames``, ``Unnamed: 0``).
MIN_ID_ROWS = 20
#: A text column whose values parse as numbers this often (but not always) is numbers with stray words
#: ("?", "n/a", a typo): refused with its values named, rather than read as hundreds of categories.
MOSTLY_NUMERIC = 0.9
#: Most categories a categorical feature keeps: the most frequent, the rest become one "other" category
#: (scikit-learn's gradient-boosted trees take at most 255 categories per feature).
MAX_CATEGORIES = 255
#: Delimiters that join several labels in one cell ("Adelie,Gentoo"): such a table is multi-label.
MULTI_LABEL_DELIMITERS = (",", ";", "|")
#: Numeric labels with more distinct values than this (and than a fifth of the rows) look like a regression
#: target, not classes.
MAX_NUMERIC_CLASSES = 100

# -- results ----------------------------------------------------------------------------------------

#: Bins of the stored score histogram over [0, 1]; a request may ask for any divisor of it.
HISTOGRAM_BINS = 100
#: Of the smaller dataset, the share of examples two audits must share to be compared: below it the
#: comparison would describe the unmatched rows more than the audits.
MIN_SHARED = 0.5

#: Backbones whose folds the local executor trains together on a GPU by default (``concurrent_folds=auto``):
#: the small ones, whose single model leaves a GPU mostly idle (bench/gpu.py's ``concurrent_folds`` step
#: measures it). On the CPU the folds go one after another: there the stacked step measured no faster
#: (docs/benchmarks/concurrent_folds.md).
CONCURRENT_FOLDS_BACKBONES = frozenset({"cnn", "mlp"})

"""One configuration per experiment: data, features, model, augmentation, training, and the run.

``ExperimentConfig`` nests one dataclass per concern. Every field is an option of the script's
command line, generated here from the dataclasses (``build_parser``): ``--lr`` sets
``train.lr``, ``--n-mels`` sets ``features.n_mels``, ``--hidden`` sets ``model.options["hidden"]``
(the model's own keyword arguments, read from its constructor's signature), and so on. The
whole object, resolved, is written to the run's ``config.json`` (``to_dict``), and the seed
lives in one place (``ExperimentConfig.seed``).

A script passes its own defaults (``ExperimentConfig(...)``); ``demo_defaults`` are the
smaller settings of a run on generated audio, applied only to the options the command line does
not set, and printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.features import FeatureConfig
from .cli_types import nonnegative_float, nonnegative_int, positive_float, positive_int
from .training import TrainConfig


@dataclass
class DataConfig:
    """Where the clips come from and how they are split.

    Attributes
    ----------
    data : str or None
        The corpus folder (default: the script's environment variable, else ./data/<corpus>).
    manifest : str or None
        A CSV with columns path,label[,speaker]: any dataset instead of the script's corpus.
    demo : bool
        Run on generated audio (written once into the cache folder).
    target : str
        What to classify (BAVED: emotion, gender or word; a manifest: its label).
    split : {"random", "speaker"}
        Random stratified, or speaker-independent (no speaker in two sets).
    folds : int >= 0
        K > 1: speaker-grouped K-fold cross-validation (implies ``split="speaker"``); K equal
        to the number of speaker groups is leave-one-speaker-out (LOSO).
    fractions : (float, float, float)
        Train, validation and test shares of the clips.
    duplicates : {"group", "drop", "refuse"}
        Files with identical decoded samples (``data.duplicates``).
    cache_dir : str
        Feature and content-hash cache folder.
    normalize : {"global", "utterance", "speaker"}
        Feature normalization: per-bin statistics of the training rows (global), of each
        clip (utterance), or of each speaker's own clips, unlabeled, also at test time
        (speaker: transductive; ``data.features.normalize_speakers``).
    dataset : str or None
        A corpus by name, read by its own file naming (``data.corpora``: baved, crema-d,
        ravdess, emodb, tess, savee); default the script's own. Its folder: --data, else the
        corpus's environment variable.
    test_dataset : str or None
        Cross-corpus: also test every fold's model on every clip of this corpus (after the
        label map), beside the in-corpus test.
    test_data : str or None
        The test corpus's folder (default: its environment variable).
    label_map : str
        Shared classes for --test-dataset: "four" (anger, happiness, sadness, neutral) or a
        CSV with the columns corpus,label,class (``data.crosscorpus``).
    features_on_disk : bool
        Corpora larger than memory: features on disk, read batch by batch (same results).
        The clean features and the training set stay in stores in the cache folder
        (``app.experiment.prepare(on_disk=True)``); memory grows with the batch.
    """

    data: str | None = None
    manifest: str | None = None
    demo: bool = False
    target: str = "emotion"
    split: str = field(default="random", metadata={"choices": ("random", "speaker")})
    folds: int = field(default=0, metadata={"type": nonnegative_int})
    fractions: tuple = (0.8, 0.1, 0.1)
    duplicates: str = field(default="group", metadata={"choices": ("group", "drop", "refuse")})
    cache_dir: str = ".cache/features"
    normalize: str = field(default="global",
                           metadata={"choices": ("global", "utterance", "speaker")})
    dataset: str | None = None
    test_dataset: str | None = None
    test_data: str | None = None
    label_map: str = "four"
    features_on_disk: bool = False


@dataclass
class AugmentConfig:
    """Training-only augmentation and balance (after the split; validation and test stay clean).

    Attributes
    ----------
    copies : float >= 0
        Augmented copies per training clip (a fraction: a share of the clips get one).
    snr_db : (float, float)
        SNR range in dB of the additive white noise copies (first paper).
    oversample : bool
        Repeat minority-class training clips until the classes are balanced.
    noise_level : float >= 0
        Second paper: largest peak-relative noise amplitude (``data.augment.WaveAugment``).
    semitones : float >= 0
        Second paper: largest pitch shift, up or down.
    gain_db : float >= 0
        Second paper: largest gain, up or down, in dB.
    freq_masks, time_masks : int >= 0
        Second paper's SpecAugment: mel bands and frame bands masked per copy.
    freq_mask_width, time_mask_width : int >= 1
        SpecAugment: widest band (``F``, ``T``).
    spec_augment : bool
        Mask every training batch afresh (SpecAugment on the fly): freq_masks masks of up to
        freq_mask_width mel bins and time_masks of up to time_mask_width frames (2 and 8 each
        unless the script sets them).
    mixup : float >= 0
        Mixup's Beta parameter (0: off): batches mixed with a shuffled copy of themselves.
    speed : float in [0, 1)
        Speed perturbation: each augmented copy is played at a rate drawn from
        {1 - speed, 1, 1 + speed} (0.1: 0.9 / 1.0 / 1.1), before its noise; 0: off.
    vtlp : float in [0, 1)
        Vocal tract length perturbation: each augmented copy's mel filterbank is warped by a
        factor drawn uniformly from [1 - vtlp, 1 + vtlp]; 0: off.
    """

    copies: float = field(default=2.0, metadata={"type": nonnegative_float})
    snr_db: tuple = (15.0, 30.0)
    oversample: bool = False
    noise_level: float = field(default=0.035, metadata={"type": nonnegative_float})
    semitones: float = field(default=2.0, metadata={"type": nonnegative_float})
    gain_db: float = field(default=5.0, metadata={"type": nonnegative_float})
    freq_masks: int = field(default=2, metadata={"type": nonnegative_int})
    time_masks: int = field(default=2, metadata={"type": nonnegative_int})
    freq_mask_width: int = field(default=8, metadata={"type": positive_int})
    time_mask_width: int = field(default=8, metadata={"type": positive_int})
    spec_augment: bool = False
    mixup: float = field(default=0.0, metadata={"type": nonnegative_float})
    speed: float = field(default=0.0, metadata={"type": nonnegative_float})
    vtlp: float = field(default=0.0, metadata={"type": nonnegative_float})

    def __post_init__(self):
        for name in ("speed", "vtlp"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 1)")


@dataclass
class ModelConfig:
    """The model: a registered name and its constructor's keyword arguments.

    Attributes
    ----------
    name : str
        The model (``--model``).
    options : dict
        Keyword arguments of the model's constructor other than the input and class sizes,
        each an option of its own (``--hidden 128``); unset ones keep the constructor's default.
    """

    name: str = ""
    options: dict = field(default_factory=dict)


@dataclass
class ExperimentConfig:
    """Everything a run depends on (module docstring).

    Attributes
    ----------
    data, features, model, augment, train
        The sections.
    seed : int >= 0
        Seeds the split, the augmentation, the data order and the model's initial weights.
    out : str or None
        The run folder (default: runs/<dataset>_<protocol>).
    resume : bool
        Continue the interrupted run in the run folder.
    overwrite : bool
        Delete the run already in the run folder and start anew.
    recipe : {"auto", "paper", "honest"}
        The defaults of the options not given: the paper's ("paper"), or the recipe the
        generalization study chose for unseen speakers (``HONEST_RECIPE``, "honest"); "auto"
        takes "honest" for ``--split speaker`` and ``--folds``, "paper" for a random split.
    """

    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = field(default=0, metadata={"type": nonnegative_int})
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    recipe: str = field(default="auto", metadata={"choices": ("auto", "paper", "honest")})


#: The recipe for unseen speakers, chosen on the validation folds of the README's study
#: (BAVED, 5-fold speaker-grouped cross-validation): ``--split speaker`` and ``--folds`` apply
#: it to every option not given on the command line (``apply_recipe``).
HONEST_RECIPE = {"train.monitor": "val_ua"}


SECTIONS = ("data", "features", "augment", "train")
# fields that are not options: set by the script or by the data
NOT_OPTIONS = {("train", "progress"), ("features", "n_frames")}
# fields whose option has another name than the field
OPTION_NAMES = {("features", "duration"): "duration", ("augment", "snr_db"): "snr-db"}
MODEL_INPUTS = ("n_classes", "n_mels", "n_frames", "name")
# positive numbers among the dataclasses' fields (checked on the command line)
POSITIVE = {"epochs", "batch_size", "lr", "n_fft", "win_length", "hop_length", "n_mels", "sr",
            "duration", "decay_steps"}
NONNEGATIVE = {"patience", "plateau_patience", "weight_decay", "momentum", "min_lr", "fmin",
               "copies", "seed", "folds"}


def _base_type(annotation):
    """``(int, False)`` for ``int``, ``(int, True)`` for ``int | None`` (a resolved type, from
    ``typing.get_type_hints``)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        real = [a for a in typing.get_args(annotation) if a is not type(None)]
        return real[0], True
    return annotation, False


def _value_type(base, name: str, optional: bool, metadata):
    conv = metadata.get("type")
    if conv is None:
        if base is int:
            conv = (positive_int if name in POSITIVE else
                    nonnegative_int if name in NONNEGATIVE else int)
        elif base is float:
            conv = (positive_float if name in POSITIVE else
                    nonnegative_float if name in NONNEGATIVE else float)
        else:
            conv = base if base in (str,) else str
    if not optional:
        return conv

    def maybe(text):
        return None if text.lower() == "none" else conv(text)
    maybe.__name__ = getattr(conv, "__name__", "value")
    return maybe


def field_help(cls) -> dict:
    """``{field: its whole description, on one line}`` from a dataclass's numpydoc
    ``Attributes`` section (the text of ``-h``; double backquotes dropped)."""
    doc = inspect.getdoc(cls) or ""
    lines = doc.split("Attributes\n----------\n", 1)[-1].splitlines() if "Attributes" in doc else []
    parts, current = {}, None
    for line in lines:
        if line and not line.startswith(" "):
            current = [name.strip() for name in line.split(" : ")[0].split(",")]
            for name in current:
                parts.setdefault(name, [])
        elif current and line.strip():
            for name in current:
                parts[name].append(line.strip().replace("``", ""))
    return {name: " ".join(words) for name, words in parts.items()}


def _add_field(group, f: dataclasses.Field, hint, default, dest: str, option: str,
               helps: dict, several: bool = False) -> None:
    base, optional = _base_type(hint)
    help_text = f.metadata.get("help", helps.get(f.name, ""))
    if several:
        help_text += " One value, or several: one run each."
    if default is not None:
        help_text += f" (default: {' '.join(map(str, default)) if isinstance(default, tuple) else default})"
    metavar = option.upper().replace("-", "_")
    if base is bool:
        group.add_argument(f"--{option}", dest=dest, action=argparse.BooleanOptionalAction,
                           default=default, help=help_text)
    elif base is tuple:
        item = type(default[0]) if default else str
        group.add_argument(f"--{option}", dest=dest, nargs=len(default) if default else "+",
                           type=item, default=default, help=help_text, metavar=metavar)
    else:
        group.add_argument(f"--{option}", dest=dest, default=default,
                           type=_value_type(base, f.name, optional, f.metadata),
                           choices=f.metadata.get("choices"), help=help_text,
                           nargs="+" if several else None,
                           metavar=None if f.metadata.get("choices") else metavar)


def model_options(factory) -> dict:
    """Keyword arguments of a model constructor (``inspect.signature``) with their defaults,
    the input and class sizes left out."""
    params = inspect.signature(factory).parameters
    return {k: p.default for k, p in params.items()
            if k not in MODEL_INPUTS and p.default is not inspect.Parameter.empty}


def build_parser(defaults: ExperimentConfig, model_defaults: dict, description: str = "",
                 epilog: str = "", skip=(), several=()) -> argparse.ArgumentParser:
    """The command line of a script: one option per field of ``defaults`` (module docstring).

    Parameters
    ----------
    defaults : ExperimentConfig
        The script's defaults (shown by ``-h``).
    model_defaults : dict
        The model's keyword arguments and defaults (``model_options``), one option each.
    description, epilog : str
        Text of ``-h``.
    skip : iterable of str
        Fields the script does not use (``"data.folds"``): no option, the default kept.
    several : iterable of str
        Options that take one value or several (``"lr"``: a sweep, one run per value).
    """
    p = argparse.ArgumentParser(description=description, epilog=epilog, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    skip = set(skip)
    for section in SECTIONS:
        group = p.add_argument_group(section)
        obj = getattr(defaults, section)
        helps, hints = field_help(type(obj)), typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            if (section, f.name) in NOT_OPTIONS or f"{section}.{f.name}" in skip:
                continue
            option = OPTION_NAMES.get((section, f.name), f.name.replace("_", "-"))
            _add_field(group, f, hints[f.name], getattr(obj, f.name), f"{section}.{f.name}",
                       option, helps, several=option in several)
    group = p.add_argument_group("model (the keyword arguments of its constructor)")
    for name, default in model_defaults.items():
        option = name.replace("_", "-")
        common = dict(dest=f"model.{name}", default=default, metavar=name.upper(),
                      help=f"(default: {default})")
        if isinstance(default, bool):
            group.add_argument(f"--{option}", dest=f"model.{name}", default=default,
                               action=argparse.BooleanOptionalAction)
        elif isinstance(default, tuple):
            group.add_argument(f"--{option}", nargs=len(default), type=type(default[0]),
                               **common)
        elif default is None or isinstance(default, str):
            group.add_argument(f"--{option}", **common)
        else:
            group.add_argument(f"--{option}", type=type(default), **common)
    run = p.add_argument_group("run")
    helps, hints = field_help(ExperimentConfig), typing.get_type_hints(ExperimentConfig)
    for f in dataclasses.fields(defaults):
        if f.name in SECTIONS or f.name == "model":
            continue
        _add_field(run, f, hints[f.name], getattr(defaults, f.name), f.name,
                   f.name.replace("_", "-"), helps)
    return p


def from_namespace(ns: argparse.Namespace, defaults: ExperimentConfig,
                   model_name: str, several=()) -> ExperimentConfig:
    """The ``ExperimentConfig`` of parsed options (nested back into their sections).

    Parameters
    ----------
    ns : argparse.Namespace
        ``build_parser(defaults, ...).parse_args(argv)``: attributes ``"<section>.<field>"``
        (``"train.lr"``), ``"model.<keyword>"`` and the run fields (``seed``, ``out``, ...).
        A sweep option (in ``several``, e.g. ``--lr 0.1 0.01``) contributes its first value;
        other lists (``--fractions 0.7 0.15 0.15``) become tuples. Fields absent from ``ns``
        keep the value in ``defaults``.
    defaults : ExperimentConfig
        The script's defaults, the base every section is replaced from (not modified).
    model_name : str
        Registered model name, stored as ``model.name``.
    several : iterable of str
        Field names of sweep options (``"lr"``).

    Returns
    -------
    ExperimentConfig
        New sections (``dataclasses.replace``); ``model.options`` holds every ``model.*``
        entry of ``ns``.

    Raises
    ------
    ValueError
        A section that checks its fields (``FeatureConfig``, ``TrainConfig``) rejects a value
        or a combination of values (e.g. ``win_length > n_fft``), named by its option
        (``--ema-decay 1.5 must be in [0, 1)``); scripts turn it into an ``error:`` line
        (``parser.error``).
    """
    values = dict(vars(ns))
    for key, value in values.items():
        if isinstance(value, list):
            name = key.split(".")[-1]
            # the first value of a sweep; a fixed-length option (nargs=N) is a tuple
            values[key] = value[0] if name in several else tuple(value)
    sections = {}
    for section in SECTIONS:
        obj = getattr(defaults, section)
        changes = {f.name: values[f"{section}.{f.name}"] for f in dataclasses.fields(obj)
                   if f"{section}.{f.name}" in values}
        try:
            sections[section] = dataclasses.replace(obj, **changes)
        except ValueError as err:    # "ema_decay=1.5 must ..." -> "--ema-decay 1.5 must ..."
            raise ValueError(re.sub(r"^(\w+)=", lambda m: (
                f"--{m[1].replace('_', '-')} " if m[1] in changes else m[0]), str(err))) from None
    options = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("model.")}
    top = {f.name: values[f.name] for f in dataclasses.fields(defaults) if f.name in values}
    return ExperimentConfig(model=ModelConfig(model_name, options), **sections, **top)


def explicit_options(argv) -> set:
    """The option names typed on the command line (``--lr 0.1`` and ``--lr=0.1`` give ``lr``)."""
    return {a[2:].split("=")[0] for a in (argv or []) if a.startswith("--")}


def apply_recipe(cfg: ExperimentConfig, argv) -> list[str]:
    """Apply ``HONEST_RECIPE`` to the options not given, when ``cfg.recipe`` asks for it.

    ``recipe="honest"``, or ``"auto"`` with a speaker-independent split (``split="speaker"``
    or ``folds > 0``): the study's recipe; ``"paper"``, or ``"auto"`` with a random split:
    nothing changes (the paper's settings).

    Parameters
    ----------
    cfg : ExperimentConfig
        Changed in place.
    argv : list of str
        The command line, whose options are left as typed.

    Returns
    -------
    list of str
        ``"--monitor val_ua (default val_loss)"`` for each setting applied, to print.
    """
    honest = cfg.recipe == "honest" or (cfg.recipe == "auto" and (
        cfg.data.split == "speaker" or cfg.data.folds > 0))
    return apply_defaults(cfg, HONEST_RECIPE, argv) if honest else []


def apply_defaults(cfg: ExperimentConfig, settings: dict, argv) -> list[str]:
    """Apply other defaults (the demo's smaller settings, the honest recipe) to the options
    not on the command line.

    Parameters
    ----------
    cfg : ExperimentConfig
        Changed in place.
    settings : dict
        ``{"train.epochs": 6, "augment.copies": 1, ...}``.
    argv : list of str
        The command line, to leave what the user typed alone.

    Returns
    -------
    list of str
        ``"--epochs 6 (default 40)"`` for each setting applied, to print.
    """
    typed = explicit_options(argv)
    shown = []
    for key, value in settings.items():
        section, name = key.split(".")
        option = OPTION_NAMES.get((section, name), name.replace("_", "-"))
        if option in typed:
            continue
        obj = getattr(cfg, section)
        old = getattr(obj, name)
        setattr(cfg, section, dataclasses.replace(obj, **{name: value}))
        shown.append(f"--{option} {value} (default {old})")
    return shown


def recipe_line(cfg: ExperimentConfig) -> str:
    """The training recipe in one line, for run headers, ``config.json`` and summaries.

    Names the normalization, the selection measure, the batch augmentations, the noisy
    copies and the regularization, e.g. ``"normalize speaker, monitor val_ua, 1 noisy
    copy per clip (+ speed 0.1), SpecAugment per batch, mixup 0.2, label smoothing 0.1,
    weight decay 0.0001, class weights balanced, dropout 0.3/0.1"``.
    """
    a, t = cfg.augment, cfg.train
    parts = [f"normalize {cfg.data.normalize}", f"monitor {t.monitor}",
             f"{a.copies:g} noisy cop{'y' if a.copies == 1 else 'ies'} per clip"
             + (f" (+ speed {a.speed:g})" if a.speed else "")
             + (f" (+ VTLP {a.vtlp:g})" if a.vtlp else "")]
    if a.spec_augment:
        parts.append("SpecAugment per batch")
    if a.mixup:
        parts.append(f"mixup {a.mixup:g}")
    if t.label_smoothing:
        parts.append(f"label smoothing {t.label_smoothing:g}")
    if t.weight_decay:
        parts.append(f"weight decay {t.weight_decay:g}")
    if t.class_weights != "none":
        parts.append(f"class weights {t.class_weights}")
    if t.ema_decay:
        parts.append(f"weight average (EMA {t.ema_decay:g})")
    dropout = [str(v) for k, v in cfg.model.options.items() if k.endswith("dropout")]
    if dropout:
        parts.append("dropout " + "/".join(dropout))
    return ", ".join(parts)


def to_dict(cfg) -> dict:
    """The configuration as JSON-able nested dicts (paths as strings)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v
    return clean(asdict(cfg))

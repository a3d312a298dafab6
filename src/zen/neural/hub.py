"""Hugging Face Hub interoperability, offline by default: ``save_pretrained``, ``from_pretrained``
and ``push_to_hub`` on zen's models.

The methods follow huggingface_hub's ``ModelHubMixin`` (same names and arguments, the same
``config.json`` + ``model.safetensors`` + ``README.md`` folder, ``pipeline_tag=``/``tags=`` as
class keywords) without inheriting from it, so that huggingface_hub stays an optional extra
(``pip install 'zen-neural[hub]'``), imported only to read the Hugging Face cache or to upload:

* ``save_pretrained(folder)`` writes the model's own zen format (what ``Trainer.save``,
  ``TabularModel.save`` or ``Forecaster.save`` write) plus a model card; it needs no
  huggingface_hub, since it only writes local files. The folder loads with ``from_pretrained``
  and with :func:`zen.export.load_saved`.
* ``from_pretrained(folder_or_repo_id)`` reads a folder, or a repo id from the local Hugging
  Face cache (``HF_HUB_CACHE``, or ``HF_HOME``/hub). Unlike ``ModelHubMixin``,
  ``local_files_only`` defaults to True: zen reaches the network only when asked.
* ``push_to_hub(repo_id)`` uploads through ``huggingface_hub.HfApi``. zen's tests check it
  against a stand-in ``HfApi`` only (they have no network).

A downloaded folder is read by the same loaders as a local one (JSON and safetensors, nothing
unpickled), and from a repo only zen's files are fetched (:data:`FOLDER_PATTERNS`), never a
pickle or code.

>>> import tempfile, torch
>>> from zen.neural import MLP
>>> net = MLP([4, 8, 2])
>>> with tempfile.TemporaryDirectory() as folder:
...     net.save_pretrained(f"{folder}/tiny-mlp")
...     loaded = MLP.from_pretrained(f"{folder}/tiny-mlp")
>>> torch.equal(loaded(torch.ones(1, 4)), net(torch.ones(1, 4)))
True
>>> MLP.from_pretrained("org/tiny-mlp")  # from the local Hugging Face cache  # doctest: +SKIP
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Self, cast

from torch import nn

import zen
from zen.atomic import atomic_directory
from zen.errors import BackendUnavailable, ConfigError, DataError
from zen.neural import checkpoint
from zen.neural.model_card import (
    CARD_FILE,
    LIBRARY_NAME,
    CardFacts,
    check_card_options,
    render_model_card,
)
from zen.neural.trainer import Trainer

#: How to get the optional dependency.
INSTALL_HINT = "pip install 'zen-neural[hub]'"
#: The files of a zen model folder; from a Hub repo only these are fetched.
FOLDER_PATTERNS = ("*.json", "*.safetensors", CARD_FILE)
# A Hub repo id, "name" or "namespace/name" (the Hub's own check runs after this one).
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def import_huggingface_hub(purpose: str) -> ModuleType:
    """The ``huggingface_hub`` module, imported on first use.

    Raises:
        BackendUnavailable: it is not installed; the message names ``purpose`` and the extra.
    """
    try:
        import huggingface_hub
    except ImportError:
        raise BackendUnavailable(
            f"{purpose} needs huggingface_hub, which is not installed: {INSTALL_HINT}"
        ) from None
    return huggingface_hub


def resolve_pretrained(
    pretrained_model_name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = True,
    token: str | bool | None = None,
    force_download: bool = False,
) -> Path:
    """The local folder of a saved model: the directory itself, or a repo's snapshot in the
    Hugging Face cache (downloaded first only with ``local_files_only=False``).

    Args:
        pretrained_model_name_or_path: a folder written by ``save_pretrained`` (or by ``save``),
            or a Hub repo id ``"org/name"``.
        revision: branch, tag or commit of the repo (default ``main``).
        cache_dir: the Hugging Face cache (default: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``).
        local_files_only: read the cache only; False lets huggingface_hub download what is
            missing (unless ``HF_HUB_OFFLINE`` is set).
        token: Hub token for private repos (downloads only).
        force_download: download again even when cached (needs ``local_files_only=False``).

    Raises:
        DataError: no such folder, and no such repo in the cache (or on the Hub).
        BackendUnavailable: a repo id was given and huggingface_hub is not installed.
        ConfigError: ``force_download`` without ``local_files_only=False``.
    """
    path = Path(pretrained_model_name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise DataError(
            f"pretrained_model_name_or_path: {path} is a file; expected the folder that holds"
            " config.json"
        )
    name = str(pretrained_model_name_or_path)
    if not _REPO_ID.fullmatch(name):
        raise DataError(
            f"pretrained_model_name_or_path: {name!r} is not a directory (not found) nor a Hugging"
            " Face repo id; expected a folder written by save_pretrained or a repo id like"
            " 'org/name'"
        )
    if force_download and local_files_only:
        raise ConfigError(
            "force_download: downloading needs local_files_only=False (zen reads the local"
            " cache only by default)"
        )
    hub = import_huggingface_hub(f"from_pretrained({name!r}) (no such directory; a repo id)")
    from huggingface_hub import constants, utils

    try:
        folder = hub.snapshot_download(
            name,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            force_download=force_download,
            allow_patterns=list(FOLDER_PATTERNS),
            library_name=LIBRARY_NAME,
            library_version=zen.__version__,
        )
    except utils.LocalEntryNotFoundError as error:
        where = f"{name}" + (f" (revision {revision!r})" if revision else "")
        message = (
            f"{where}: no such directory, and the repo is not downloaded: the local Hugging Face"
            f" cache {cache_dir or constants.HF_HUB_CACHE} holds no complete copy"
        )
        if local_files_only:
            message += (
                ". zen reads the Hub only when asked: pass local_files_only=False to download"
                f" it (or download it first: hf download {name})"
            )
        elif constants.HF_HUB_OFFLINE:
            message += ", and HF_HUB_OFFLINE is set, so nothing is downloaded; unset it"
        else:
            message += f", and the Hub could not be reached ({error.__cause__ or error})"
        raise DataError(message) from error
    except utils.RepositoryNotFoundError as error:
        raise DataError(
            f"{name}: no such model repo on the Hugging Face Hub (or it is private or gated:"
            " pass token=)"
        ) from error
    except utils.RevisionNotFoundError as error:
        raise DataError(f"{name}: the repo has no revision {revision!r}") from error
    except utils.HFValidationError as error:
        raise DataError(f"pretrained_model_name_or_path: {name!r}: {error}") from error
    return Path(folder)


class HubMixin:
    """``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for a zen model.

    A class gets them by inheriting this mixin; by default the folder is what its ``save(path)``
    writes and ``load(path)`` reads. Subclasses change that with :meth:`_save_pretrained` and
    :meth:`_load_pretrained`, and what the model card says with :meth:`_card_facts`. As in
    ``ModelHubMixin``, class keywords set the card's Hub task and tags::

        class GNN(nn.Module, NetworkHubMixin, pipeline_tag="graph-ml", tags=["graph"]): ...
    """

    hub_pipeline_tag: ClassVar[str | None] = None
    hub_tags: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(
        cls, *, pipeline_tag: str | None = None, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if pipeline_tag is not None:
            cls.hub_pipeline_tag = pipeline_tag
        if tags is not None:  # a subclass adds to its parents' tags
            cls.hub_tags = tuple(dict.fromkeys([*cls.hub_tags, *tags]))

    # ------------------------------------------------------------------ saving
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> str | None:
        """Write the model to folder ``save_directory``: its zen files and a ``README.md`` card.

        The folder appears whole or not at all (like ``save``, it replaces the folder): an
        existing ``README.md`` is kept, as ``ModelHubMixin`` keeps it (delete it to get a new
        card); a folder holding files zen did not write (``.git``...) is refused rather than
        wiped.

        Args:
            save_directory: the folder.
            repo_id: the Hub repo the card's example loads from, and where ``push_to_hub``
                uploads (default: the folder's name).
            push_to_hub: upload the folder afterwards (:meth:`push_to_hub`'s keywords go in
                ``push_to_hub_kwargs``).
            model_card_kwargs: what to add to the card: ``description``, ``license``,
                ``metrics`` (name -> value, measured on ``dataset``), ``dataset``, ``tags``.

        Returns:
            The commit URL when pushing, else None.

        Raises:
            NotFittedError: the model is not fitted.
            DataError: ``save_directory`` is a file, or holds files zen did not write.
            ConfigError: unknown ``model_card_kwargs``.
        """
        directory = Path(save_directory).expanduser()
        options = check_card_options(model_card_kwargs)
        previous_card = _check_folder(directory)
        with atomic_directory(directory) as staging:
            # The model's own saver writes (and atomically replaces) the staging folder; the
            # card joins it there, so the target gets both at once.
            self._save_pretrained(staging)
            card = previous_card or self.generate_model_card(
                load_name=repo_id or directory.name, **options
            )
            (staging / CARD_FILE).write_text(card, encoding="utf-8")
        if push_to_hub:
            return _upload(directory, repo_id or directory.name, **push_to_hub_kwargs)
        return None

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the model's files into ``save_directory`` (default: ``self.save``)."""
        cast(Any, self).save(save_directory)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str = "Upload zen-neural model",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
    ) -> str:
        """Save the model to a temporary folder and upload it to Hub repo ``repo_id`` (created
        when missing), as ``ModelHubMixin.push_to_hub`` does; returns the commit URL.

        Needs the network and a token (``hf auth login``); not exercised against the real Hub
        by zen's tests.

        Raises:
            BackendUnavailable: huggingface_hub is not installed.
        """
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary) / "model"
            self.save_pretrained(folder, repo_id=repo_id, model_card_kwargs=model_card_kwargs)
            return _upload(
                folder,
                repo_id,
                commit_message=commit_message,
                private=private,
                token=token,
                branch=branch,
                create_pr=create_pr,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                delete_patterns=delete_patterns,
            )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = True,
        revision: str | None = None,
    ) -> Self:
        """Load a model from a folder, or from a Hub repo in the local Hugging Face cache.

        Args: see :func:`resolve_pretrained`; ``local_files_only=False`` allows downloading.

        Raises:
            DataError: not found (the message says how to allow downloading), not a model of
                this class, or corrupt files.
            BackendUnavailable: a repo id without huggingface_hub installed.
        """
        folder = resolve_pretrained(
            pretrained_model_name_or_path,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            force_download=force_download,
        )
        model = cls._load_pretrained(folder)
        if not isinstance(model, cls):
            raise DataError(
                f"{pretrained_model_name_or_path}: holds a {type(model).__name__}, not a"
                f" {cls.__name__}; load it with {type(model).__name__}.from_pretrained"
            )
        return model

    @classmethod
    def _load_pretrained(cls, folder: Path) -> Any:
        """The model saved in ``folder`` (default: ``cls.load``)."""
        return cast(Any, cls).load(folder)

    # ------------------------------------------------------------------ model card
    def generate_model_card(self, *, load_name: str = "path/to/folder", **options: Any) -> str:
        """The ``README.md`` text for this model (see :mod:`zen.neural.model_card`).

        Args:
            load_name: the repo id or folder the card's example loads from.
            **options: ``model_card_kwargs`` of :meth:`save_pretrained`.
        """
        facts = self._card_facts()
        facts = CardFacts(
            summary=facts.summary,
            pipeline_tag=facts.pipeline_tag or self.hub_pipeline_tag,
            tags=[*self.hub_tags, *facts.tags],
            metrics=facts.metrics,
            metrics_source=facts.metrics_source,
            settings=facts.settings,
        )
        return render_model_card(
            facts, model_class=type(self), load_name=load_name, options=options
        )

    def _card_facts(self) -> CardFacts:
        """What the card says about the model; subclasses tell more (metrics, task)."""
        settings = getattr(self, "hyperparameters", None)
        return CardFacts(
            summary=f"A zen-neural {type(self).__name__}.",
            settings=settings() if callable(settings) else {},
        )


class NetworkHubMixin(HubMixin):
    """:class:`HubMixin` for networks: ``nn.Module`` classes with ``config()`` and
    ``from_config()`` that are registered with :mod:`zen.registry` (MLP, the GNNs, any network
    declared with :func:`zen.neural.checkpoint.register_model`).

    The folder is a :class:`~zen.neural.Trainer` checkpoint of the network (no optimizer state),
    so ``Trainer.load`` and :func:`zen.export.load_saved` read it too. The loaded network is in
    eval mode.
    """

    def _save_pretrained(self, save_directory: Path) -> None:
        if not isinstance(self, nn.Module) or checkpoint.describe_model(self) is None:
            raise ConfigError(
                f"{type(self).__name__}: save_pretrained needs a registered nn.Module with"
                " config() and from_config(); declare it with"
                " zen.neural.checkpoint.register_model"
            )
        trainer = Trainer()
        trainer.model = self
        trainer.save(save_directory)

    @classmethod
    def _load_pretrained(cls, folder: Path) -> Any:
        model = Trainer.load(folder).model
        assert model is not None  # Trainer.load always rebuilds one
        return model.eval()

    def _card_facts(self) -> CardFacts:
        text = repr(self)
        if "\n" in text:  # a module's repr lists its layers; the card shows its one-line summary
            text = f"{type(self).__name__}({cast(nn.Module, self).extra_repr()})"
        return CardFacts(
            summary=f"A zen-neural network: `{text}`.", settings=cast(Any, self).config()
        )


def _check_folder(directory: Path) -> str | None:
    """The card already in ``directory`` (None if none), after checking that saving may
    replace the folder."""
    if not directory.exists():
        return None
    if not directory.is_dir():
        raise DataError(f"save_directory: {directory} is a file; expected a folder")
    foreign = sorted(entry.name for entry in directory.iterdir() if not _written_by_zen(entry))
    if foreign:
        raise DataError(
            f"save_directory: {directory} holds files zen did not write ({', '.join(foreign)});"
            " save_pretrained replaces the folder as a whole, so save to a new or empty folder"
            " (push_to_hub uploads without touching a local clone)"
        )
    card = directory / CARD_FILE
    return card.read_text(encoding="utf-8") if card.is_file() else None


def _written_by_zen(entry: Path) -> bool:
    """Whether ``entry`` is one of the files a zen model folder holds."""
    return entry.is_file() and (
        entry.name in (checkpoint.CONFIG_FILE, CARD_FILE, "history.json")
        or entry.name.endswith(".safetensors")
    )


def _upload(
    folder: Path,
    repo_id: str,
    *,
    commit_message: str = "Upload zen-neural model",
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
) -> str:
    """Upload ``folder`` to Hub repo ``repo_id`` in one commit; the commit URL."""
    hub = import_huggingface_hub("push_to_hub")
    api = hub.HfApi(token=token, library_name=LIBRARY_NAME, library_version=zen.__version__)
    repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
    commit = api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=folder,
        commit_message=commit_message,
        revision=branch,
        create_pr=create_pr,
        allow_patterns=allow_patterns,
        ignore_patterns=ignore_patterns,
        delete_patterns=delete_patterns,
    )
    return str(getattr(commit, "commit_url", commit))

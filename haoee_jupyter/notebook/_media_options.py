"""The options of ``%%haoee image`` and ``%%haoee video``, declared once as rows of the same
:class:`~._options.Option` type as the text magic's.

Each :class:`Command` (a kind of cell named by its line's first word) gives its cell's parser, its values, its usage line (in
``%%haoee?`` and ``%haoee help``) and its README reference. To add an option, add a row here and
use its value in :mod:`._media`; never a row that nothing reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any

from ._options import OPTION, Option, OptionError, from_namespace, reference_markdown, resolve, split_line, unset_value

__all__ = ["COMMANDS", "IMAGE", "IMAGE_QUALITIES", "STREAMING_IMAGE_MODELS", "VIDEO", "Command", "CommandParser"]


class CommandParser(argparse.ArgumentParser):
    """A command's parser: a bad line is one short OptionError that says where the options are."""

    def error(self, message: str) -> Any:
        message = re.sub(r"^argument [^:]+: (?=-)", "", message)  # our own sentence names the option
        raise OptionError(f"{self.prog}: {message} (%%haoee? lists its options)")

    def usage_line(self) -> str:
        return " ".join(self.format_usage().split()).removeprefix("usage: ")


@dataclass(frozen=True)
class Command:
    """A kind of ``%%haoee`` cell named by the first word of its line (``%%haoee image``), with
    options of its own: rows of the same :class:`Option` type, parsed, resolved against the
    settings and documented as the text magic's are.

    >>> IMAGE.parse("-n 2 --size 1024x1024").n
    2
    """

    name: str
    summary: str
    options: tuple[Option, ...]

    @functools.cached_property
    def values(self) -> Any:
        """The dataclass of this command's values, one field per row (None: not given)."""
        cls = dataclasses.make_dataclass(
            self.name.title() + "Options",
            [(option.name, Any, unset_value(option)) for option in self.options],
            namespace={"__doc__": f"What a %%haoee {self.name} cell asked for (None: not given)."},
        )
        cls.__module__ = __name__
        return cls

    def parser(self) -> CommandParser:
        parser = CommandParser(prog=f"%%haoee {self.name}", add_help=False, allow_abbrev=False)
        for option in self.options:
            option.add_to(parser.add_argument)
        return parser

    def parse(self, line: str) -> Any:
        """The values of the words after the command's name; OptionError (one line) if one is wrong."""
        return from_namespace(self.parser().parse_args(split_line(line)), self.options, self.values)

    def resolve(self, values: Any, settings: Any) -> Any:
        return resolve(values, settings, self.options)

    def usage(self) -> str:
        return self.parser().usage_line()

    def reference_markdown(self) -> str:
        return reference_markdown(self.options)


IMAGE_QUALITIES = ("low", "medium", "high", "auto", "standard", "hd")
#: Model names (their start) that stream partial images by default: OpenAI's GPT image models of
#: the gpt-image-1 family. Others answer in one piece unless ``--stream`` asks.
STREAMING_IMAGE_MODELS = ("gpt-image-1",)

#: --log / --no-log, as for every call (a prompt that should not be kept).
_LOG = OPTION["log"]
_OUT = Option(
    "out",
    ("-o", "--out"),
    "Also keep the result in this variable (haoee_response always holds it).",
    kind="name",
    metavar="NAME",
)

IMAGE = Command(
    "image",
    "the cell is the image prompt: generate (or, with --image, edit) images; shown inline and saved",
    (
        Option(
            "model",
            ("-m", "--model"),
            "Image model (default: %config Haoee.image_model).",
            metavar="NAME",
            request="model",
            trait="image_model",
        ),
        Option(
            "size",
            ("--size",),
            "Image size WIDTHxHEIGHT (1024x1024, 1536x1024, 1024x1536; gpt-image-2 any multiple of 16) or auto.",
            kind="size",
            metavar="WxH",
            choices=("auto",),
            request="size",
        ),
        Option("n", ("-n",), "How many images, 1 to 10.", kind="count", metavar="N", high=10, request="n"),
        Option(
            "quality",
            ("--quality",),
            "Quality: " + ", ".join(IMAGE_QUALITIES) + " (standard and hd are dall-e-3's).",
            kind="choice",
            metavar="Q",
            choices=IMAGE_QUALITIES,
            request="quality",
        ),
        Option(
            "output_format",
            ("--output-format",),
            "File type of the images: png, jpeg or webp.",
            kind="choice",
            metavar="png|jpeg|webp",
            choices=("png", "jpeg", "webp"),
            request="output_format",
        ),
        Option(
            "images",
            ("--image",),
            "An image to edit (a file, a URL, or a variable holding a PIL image, a matplotlib figure or "
            "image bytes); repeatable. With it the call goes to /v1/images/edits.",
            kind="list",
            metavar="PATH|URL|NAME",
            request="image",
        ),
        Option(
            "stream",
            ("--stream",),
            "Show partial images while the model draws (partial_images 2). The default: on for the "
            "gpt-image-1 models, which stream them; off for the others.",
            kind="toggle",
            request="stream",
        ),
        _OUT,
        _LOG,
    ),
)

VIDEO = Command(
    "video",
    "the cell is the video prompt: create a video job, follow it, download, save and play the video",
    (
        Option(
            "model",
            ("-m", "--model"),
            "Video model (default: %config Haoee.video_model).",
            metavar="NAME",
            request="model",
            trait="video_model",
        ),
        Option(
            "seconds",
            ("--seconds",),
            "Length of the clip in seconds (sora-2: 4, 8 or 12).",
            kind="count",
            metavar="N",
            request="seconds",
        ),
        Option(
            "size",
            ("--size",),
            "Video size WIDTHxHEIGHT (sora-2: 720x1280, 1280x720, 1024x1792, 1792x1024).",
            kind="size",
            metavar="WxH",
            request="size",
        ),
        Option(
            "image",
            ("--image",),
            "A reference image to start from (a file, a URL or a variable, as for %%haoee image); "
            "its size must be the video's.",
            metavar="PATH|URL|NAME",
            request="input_reference",
        ),
        Option(
            "remix",
            ("--remix",),
            "Remix this finished video (its job id) with the cell as the change to make; takes no other option but -o.",
            metavar="ID",
        ),
        _OUT,
        _LOG,
    ),
)

#: The cells named by their first word, in the order of ``%%haoee?`` and ``%haoee help``.
COMMANDS: dict[str, Command] = {command.name: command for command in (IMAGE, VIDEO)}

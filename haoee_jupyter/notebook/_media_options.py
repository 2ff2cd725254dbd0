"""The options of ``%%haoee image`` and ``%%haoee video``, declared once as rows of the same
:class:`~._options.Option` type as the text magic's.

Each :class:`~._options.Command` gives its cell's parser, its values, its usage line (in
``%%haoee?`` and ``%haoee help``) and its README reference. To add an option, add a row here and
use its value in :mod:`._media`; never a row that nothing reads.
"""

from __future__ import annotations

from ._options import Command, Option

__all__ = ["COMMANDS", "IMAGE", "IMAGE_QUALITIES", "STREAMING_IMAGE_MODELS", "VIDEO"]

IMAGE_QUALITIES = ("low", "medium", "high", "auto", "standard", "hd")
#: Model names (their start) that stream partial images by default: OpenAI's GPT image models of
#: the gpt-image-1 family. Others answer in one piece unless ``--stream`` asks.
STREAMING_IMAGE_MODELS = ("gpt-image-1",)

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
    ),
)

#: The cells named by their first word, in the order of ``%%haoee?`` and ``%haoee help``.
COMMANDS: dict[str, Command] = {command.name: command for command in (IMAGE, VIDEO)}

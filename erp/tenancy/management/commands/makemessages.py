"""makemessages without fuzzy matching: gettext's guesses for new strings ("Reship" taken for
"Members") are worse than an empty entry, which shows the English text and is counted as to do."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]

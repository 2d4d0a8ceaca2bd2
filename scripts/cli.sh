# Sourced by the repository's shell tools. cli_usage prints the comment block at the top of a
# script (its usage); cli_no_options answers --help with it for a tool that takes no options and
# refuses anything else in one line (exit 2). Tools with options call cli_usage from their own
# option loop.
cli_usage() {
  awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

cli_no_options() {
  local script=$1
  shift
  (($# == 0)) && return 0
  case "$1" in
    -h | --help)
      cli_usage "$script"
      exit 0
      ;;
    *)
      echo "$script: unknown option $1 (see --help)" >&2
      exit 2
      ;;
  esac
}

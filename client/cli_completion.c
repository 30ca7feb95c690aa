/* cli_completion.c -- the bash and zsh completion scripts of `fedsched completion`.
 * Not responsible for the verbs (cli.c). The scripts are fixed text around the verb list
 * the CLI passes in, so a new verb is completed without touching this file; job names
 * come from the server at completion time through `fedsched list -o name`. */
#include "client/cli_completion.h"

#include <string.h>

/* Every option of cli.c's parse(), and the ones that take a value. */
#define FLAGS                                                                                      \
    "-n --namespace -o --output -f --file -l --selector -q --quiet -v --verbose -h --help "        \
    "--url --token --wait --timeout --phase --sku --limit --all --newest --from --to --step "      \
    "--format --cluster --pool "                                                                   \
    "--out --retry-for --idempotency-key --dry-run --fail-if-unschedulable"
/* Those of cli_cluster.c's parse(), for cluster, clusters and capacity. */
#define CLUSTER_FLAGS                                                                              \
    "-o --output -v --verbose -h --help --url --token --retry-for --kubeconfig "                   \
    "--context --secrets-dir --region --provider --allow-insecure-http --chunk-size --sku --pool"
#define OUTPUTS       "table json yaml wide name"
#define FORMATS       "csv json md html"
#define JOB_VERBS_RE  "get|cancel|wait|explain|logs-url|events"
#define CLUSTER_VERBS "list get add cordon uncordon check nodes remove"
#define VALUE_FLAGS_RE                                                                             \
    "-n|--namespace|--url|--token|--timeout|--phase|--sku|--limit|--from|--to|--step|--retry-for|" \
    "--idempotency-key|-l|--selector|--context|--region|--provider|--chunk-size|--pool|--cluster"
#define FILE_FLAGS_RE "-f|--file|--out|--kubeconfig|--secrets-dir"

static void verb_words(FILE *out, const char *const *verbs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? " " : "", verbs[i]);
}

static const char bash_head[] =
    "# bash completion for fedsched: source <(fedsched completion bash)\n"
    "_fedsched_names() {\n"
    "    local i args=() ns=\"${FEDSCHED_NAMESPACE:-default}\"\n"
    "    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do\n"
    "        case ${COMP_WORDS[i]} in\n"
    "        -n|--namespace) ns=${COMP_WORDS[i+1]} ;;\n"
    "        --url|--token) args+=(\"${COMP_WORDS[i]}\" \"${COMP_WORDS[i+1]}\") ;;\n"
    "        esac\n"
    "    done\n"
    "    fedsched list -q --all -o name --retry-for 1s -n \"$ns\" \"${args[@]}\" 2>/dev/null\n"
    "}\n"
    "_fedsched() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    "    local verbs=\"";

static const char bash_tail[] =
    "\"\n"
    "    COMPREPLY=()\n"
    "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
    "        COMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\"))\n"
    "        return\n"
    "    fi\n"
    "    case $prev in\n"
    "    -o|--output) COMPREPLY=($(compgen -W \"" OUTPUTS "\" -- \"$cur\")); return ;;\n"
    "    --format) COMPREPLY=($(compgen -W \"" FORMATS "\" -- \"$cur\")); return ;;\n"
    "    " FILE_FLAGS_RE ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
    "    " VALUE_FLAGS_RE ") return ;;\n"
    "    esac\n"
    "    if [[ $cur == -* ]]; then\n"
    "        case ${COMP_WORDS[1]} in\n"
    "        cluster|clusters|capacity) COMPREPLY=($(compgen -W \"" CLUSTER_FLAGS "\" -- \"$cur\"))"
    " ;;\n"
    "        *) COMPREPLY=($(compgen -W \"" FLAGS "\" -- \"$cur\")) ;;\n"
    "        esac\n"
    "        return\n"
    "    fi\n"
    "    case ${COMP_WORDS[1]} in\n"
    "    completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n"
    "    cluster) [ \"$COMP_CWORD\" -eq 2 ] &&\n"
    "        COMPREPLY=($(compgen -W \"" CLUSTER_VERBS "\" -- \"$cur\")) ;;\n"
    "    " JOB_VERBS_RE ") COMPREPLY=($(compgen -W \"$(_fedsched_names)\" -- \"$cur\")) ;;\n"
    "    esac\n"
    "}\n"
    "complete -F _fedsched fedsched\n";

static const char zsh_head[] =
    "#compdef fedsched\n"
    "# zsh completion for fedsched: source <(fedsched completion zsh), or save as _fedsched\n"
    "# in a directory of $fpath.\n"
    "_fedsched_names() {\n"
    "    local i ns=${FEDSCHED_NAMESPACE:-default}\n"
    "    local -a args\n"
    "    for ((i = 2; i < CURRENT; i++)); do\n"
    "        case ${words[i]} in\n"
    "        -n|--namespace) ns=${words[i+1]} ;;\n"
    "        --url|--token) args+=(${words[i]} ${words[i+1]}) ;;\n"
    "        esac\n"
    "    done\n"
    "    fedsched list -q --all -o name --retry-for 1s -n $ns $args 2>/dev/null\n"
    "}\n"
    "_fedsched() {\n"
    "    local -a verbs names\n"
    "    verbs=(";

static const char zsh_tail[] =
    ")\n"
    "    if (( CURRENT == 2 )); then\n"
    "        compadd -- $verbs\n"
    "        return\n"
    "    fi\n"
    "    case ${words[CURRENT-1]} in\n"
    "    -o|--output) compadd -- " OUTPUTS "; return ;;\n"
    "    --format) compadd -- " FORMATS "; return ;;\n"
    "    " FILE_FLAGS_RE ") _files; return ;;\n"
    "    " VALUE_FLAGS_RE ") return ;;\n"
    "    esac\n"
    "    if [[ ${words[CURRENT]} == -* ]]; then\n"
    "        case ${words[2]} in\n"
    "        cluster|clusters|capacity) compadd -- " CLUSTER_FLAGS " ;;\n"
    "        *) compadd -- " FLAGS " ;;\n"
    "        esac\n"
    "        return\n"
    "    fi\n"
    "    case ${words[2]} in\n"
    "    completion) compadd -- bash zsh ;;\n"
    "    cluster) (( CURRENT == 3 )) && compadd -- " CLUSTER_VERBS " ;;\n"
    "    " JOB_VERBS_RE ") names=(${(f)\"$(_fedsched_names)\"}); compadd -- $names ;;\n"
    "    esac\n"
    "}\n"
    "if [ \"$funcstack[1]\" = _fedsched ]; then\n"
    "    _fedsched \"$@\"\n"
    "else\n"
    "    compdef _fedsched fedsched\n"
    "fi\n";

int cli_completion(FILE *out, const char *shell, const char *const *verbs, size_t n)
{
    if (strcmp(shell, "bash") == 0) {
        fputs(bash_head, out);
        verb_words(out, verbs, n);
        fputs(bash_tail, out);
        return 0;
    }
    if (strcmp(shell, "zsh") == 0) {
        fputs(zsh_head, out);
        verb_words(out, verbs, n);
        fputs(zsh_tail, out);
        return 0;
    }
    return -1;
}

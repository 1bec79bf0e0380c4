// Shell completion. `kubectl ocsp completion bash|zsh` prints a script for `kubectl-ocsp`; both it
// and kubectl itself (which runs `kubectl_complete-ocsp ARGS... WORD` for `kubectl ocsp <TAB>`)
// ask `kubectl-ocsp __complete ARGS... WORD`, which answers as cobra programs do: one candidate a
// line, then `:4` (no file completion) or `:0` (files: for fetch's certificate file).
import { KubeConfig } from '@kubernetes/client-node';
import { NamespaceType, OcspResponderPoolType, OcspStapleType, SecretType, type ResourceType } from '../kube/types.js';
import type { Connection } from './kube.js';

export const COMMANDS = ['get', 'inspect', 'refresh', 'fetch', 'probe', 'version', 'completion'] as const;
const FLAGS = ['--namespace', '--all-namespaces', '--selector', '--output', '--kubeconfig', '--context', '--timeout', '--help'];
const COMMAND_FLAGS: Record<string, string[]> = {
  refresh: ['--all', '--wait'],
  fetch: ['--issuer', '--url', '--method', '--hash', '--nonce', '--save'],
  probe: ['--servername', '--issuer'],
};
const OUTPUTS: Record<string, string[]> = {
  get: ['wide', 'json', 'yaml', 'name'],
  default: ['text', 'json', 'yaml'],
};
const KINDS: Record<string, string[]> = { get: ['staples', 'pools'], inspect: ['staple', 'pool', 'secret'] };
const TYPES: Record<string, ResourceType> = {
  staple: OcspStapleType,
  staples: OcspStapleType,
  pool: OcspResponderPoolType,
  pools: OcspResponderPoolType,
  secret: SecretType,
};
const VALUE_FLAGS = new Set([
  '-n',
  '--namespace',
  '-l',
  '--selector',
  '-o',
  '--output',
  '--kubeconfig',
  '--context',
  '--timeout',
  '--issuer',
  '--url',
  '--method',
  '--hash',
  '--save',
  '--servername',
]);

const NO_FILES = ':4';
const FILES = ':0';

/** Candidates for `word`, the last (possibly empty) argument, after `args`. Cluster look-ups fail quietly. */
export async function complete(
  words: string[],
  connect: (o: { kubeconfig?: string; context?: string; namespace?: string }) => Connection,
): Promise<string> {
  const word = words.length ? words[words.length - 1]! : '';
  const args = words.slice(0, -1);
  const flagValue = (...names: string[]) => {
    for (let i = args.length - 2; i >= 0; i--) if (names.includes(args[i]!)) return args[i + 1];
    return undefined;
  };
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (VALUE_FLAGS.has(args[i]!)) i++;
    else if (!args[i]!.startsWith('-')) positionals.push(args[i]!);
  }
  const [command, kind] = positionals;
  const out = (c: readonly string[], directive = NO_FILES) => [...c.filter((x) => x.startsWith(word)), directive].join('\n') + '\n';
  const prev = args[args.length - 1];
  const conn = () =>
    connect({
      ...(flagValue('--kubeconfig') ? { kubeconfig: flagValue('--kubeconfig')! } : {}),
      ...(flagValue('--context') ? { context: flagValue('--context')! } : {}),
      ...(flagValue('-n', '--namespace') ? { namespace: flagValue('-n', '--namespace')! } : {}),
    });
  const names = async (type: ResourceType, namespaced = true) => {
    try {
      const c = conn();
      const list = await c.client.list(type, namespaced ? { namespace: c.namespace } : {});
      return list.items.map((o) => o.metadata?.name ?? '');
    } catch {
      return [];
    }
  };

  if (prev === '-o' || prev === '--output') return out(OUTPUTS[command === 'get' ? 'get' : 'default']!);
  if (prev === '-n' || prev === '--namespace') return out(await names(NamespaceType, false));
  if (prev === '--context') {
    try {
      const kc = new KubeConfig();
      const file = flagValue('--kubeconfig');
      if (file) kc.loadFromFile(file);
      else kc.loadFromDefault();
      return out(kc.getContexts().map((c) => c.name));
    } catch {
      return out([]);
    }
  }
  if (prev === '--method') return out(['GET', 'POST']);
  if (prev === '--hash') return out(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']);
  if (prev !== undefined && VALUE_FLAGS.has(prev)) return out([], FILES);
  if (word.startsWith('-')) return out([...FLAGS, ...(command ? (COMMAND_FLAGS[command] ?? []) : [])]);
  if (!command) return out(COMMANDS);
  if (command === 'completion') return out(positionals.length === 1 ? ['bash', 'zsh'] : []);
  if (command === 'get' || command === 'inspect') {
    if (!kind) return out(KINDS[command]!);
    const type = TYPES[kind];
    return out(type ? await names(type) : []);
  }
  if (command === 'refresh') return out(await names(OcspStapleType));
  if (command === 'fetch') return out([], FILES);
  return out([]);
}

export function completionScript(shell: string): string | undefined {
  if (shell === 'bash') {
    return `# bash completion for kubectl-ocsp: source <(kubectl ocsp completion bash)
# For \`kubectl ocsp <TAB>\` (kubectl 1.26+), also put a kubectl_complete-ocsp on the PATH:
#   ln -s "$(command -v kubectl-ocsp)" "$(dirname "$(command -v kubectl-ocsp)")/kubectl_complete-ocsp"
_kubectl_ocsp() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out directive
  out=$(kubectl-ocsp __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
  directive=\${out##*:}
  out=\${out%:*}
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  if [ \${#COMPREPLY[@]} -eq 0 ] && [ "$directive" = 0 ]; then COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -F _kubectl_ocsp kubectl-ocsp
`;
  }
  if (shell === 'zsh') {
    return `#compdef kubectl-ocsp
# zsh completion for kubectl-ocsp: source <(kubectl ocsp completion zsh)
# For \`kubectl ocsp <TAB>\` (kubectl 1.26+), also put a kubectl_complete-ocsp on the PATH:
#   ln -s "$(command -v kubectl-ocsp)" "$(dirname "$(command -v kubectl-ocsp)")/kubectl_complete-ocsp"
_kubectl_ocsp() {
  local -a lines candidates
  local directive
  lines=("\${(@f)$(kubectl-ocsp __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null)}")
  directive=\${lines[-1]#:}
  candidates=("\${(@)lines[1,-2]}")
  if (( \${#candidates} )); then
    compadd -- "\${candidates[@]}"
  elif [[ $directive == 0 ]]; then
    _files
  fi
}
if [ "$funcstack[1]" = "_kubectl_ocsp" ]; then
  _kubectl_ocsp "$@"
else
  compdef _kubectl_ocsp kubectl-ocsp
fi
`;
  }
  return undefined;
}

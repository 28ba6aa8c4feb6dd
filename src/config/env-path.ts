/**
 * `${NAME}` in file paths, from the environment: systemd's LoadCredential= hands secrets over
 * in `$CREDENTIALS_DIRECTORY`, whose value only the service knows, so a config says
 * `secret_key_file: ${CREDENTIALS_DIRECTORY}/duo_secret_key`. Only `${NAME}` is expanded
 * (a bare `$` stays as it is); an unset variable is an error, never an empty string.
 */
export function expandEnvPath(value: string, env: NodeJS.ProcessEnv = process.env): { value?: string; missing?: string } {
  let missing: string | undefined;
  const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') {
      missing ??= name;
      return '';
    }
    return v;
  });
  return missing ? { missing } : { value: out };
}

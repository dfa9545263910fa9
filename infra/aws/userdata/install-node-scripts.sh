# infra/node travels inside the SSM document pgwarden-<cluster>-install-node-scripts (one file per command,
# gzip + base64), rewritten on every deploy. First boot installs it from there; after a deploy that
# changes infra/node, a State Manager association runs the same document on every cluster member.
install_node_scripts() {
  local tmp
  tmp=$(mktemp)
  aws ssm get-document --name ${InstallDocument} --document-format JSON --query Content --output text |
    jq -r '.mainSteps[0].inputs.runCommand[]' >"$tmp"
  bash "$tmp"
  rm -f "$tmp"
}

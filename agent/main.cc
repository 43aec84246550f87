// runguardd: placeholder until the agent's main lands (issue 6).
int main() { return 1; }

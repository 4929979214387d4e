export async function renderReport(_r: unknown): Promise<string> { return "<html></html>"; }

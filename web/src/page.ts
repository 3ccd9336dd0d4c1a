// A console page: which roles see it, how it renders, how often it refreshes.
export interface Page {
  route: string;
  nav: string;
  roles: string[];
  refreshMs?: number;
  render(root: HTMLElement, params: URLSearchParams): Promise<void>;
}

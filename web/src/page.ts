// A console page: which roles see it, how it renders, how often it refreshes
// (pages that follow the event stream do not poll), and what to undo when the
// user leaves it (event subscriptions, timers).
export interface Page {
  route: string;
  nav: string;
  // hidden pages are not in the menu: they are opened by links (a ticket).
  hidden?: boolean;
  roles: string[];
  refreshMs?: number;
  render(root: HTMLElement, params: URLSearchParams): Promise<void>;
  leave?(): void;
}

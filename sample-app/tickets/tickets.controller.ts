import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { WithLock } from 'nestjs-redlock';
import { InventoryStore } from './inventory.store.js';
import { TicketsService } from './tickets.service.js';

@Controller('events')
export class TicketsController {
  constructor(
    private readonly tickets: TicketsService,
    private readonly inventory: InventoryStore,
  ) {}

  /** The safe route: one purchase per event at a time, across every instance of the app. */
  @Post(':eventId/tickets')
  @WithLock('event:<0>', { ttl: 5_000, wait: 10_000 })
  buy(@Param('eventId') eventId: string) {
    return this.tickets.buy(eventId);
  }

  /** The control route: the same purchase without a lock. Concurrent buyers oversell. */
  @Post(':eventId/tickets/unlocked')
  buyUnlocked(@Param('eventId') eventId: string) {
    return this.tickets.buy(eventId);
  }

  @Put(':eventId')
  restock(@Param('eventId') eventId: string, @Body() body: { capacity: number }) {
    return this.tickets.restock(eventId, Number(body.capacity));
  }

  @Get(':eventId')
  stats(@Param('eventId') eventId: string) {
    return this.inventory.stats(eventId);
  }

  @Put(':eventId/seats/:seat')
  @HttpCode(204)
  assign(
    @Param('eventId') eventId: string,
    @Param('seat') seat: string,
    @Body() body: { holder: string },
  ) {
    return this.tickets.assignSeat(eventId, seat, body.holder);
  }

  @Post(':eventId/seats/swap')
  swap(@Param('eventId') eventId: string, @Body() body: { a: string; b: string }) {
    return this.tickets.swapSeats(eventId, body.a, body.b);
  }
}

import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  new Logger('Sample').log(
    `Ticket shop on http://127.0.0.1:${port} (try: curl -XPUT -H 'content-type: application/json' -d '{"capacity":10}' http://127.0.0.1:${port}/events/gig)`,
  );
}

void bootstrap();
